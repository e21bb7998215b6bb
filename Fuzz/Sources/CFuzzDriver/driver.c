// The declaration in include/CFuzzDriver.h is the whole of this target; SwiftPM needs a source.
#include "CFuzzDriver.h"
