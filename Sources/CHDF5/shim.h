// Debian installs the serial HDF5 headers under /usr/include/hdf5/serial and the library under
// /usr/lib/<arch>/hdf5/serial; pkg-config's hdf5 entry puts both on the paths.
#include <hdf5.h>
