// The umbrella module: `import Pinpoint` brings in every part. Each part is also its own
// product (`PinpointTensor`, `PinpointAutograd`, ...) for code that wants only one.
@_exported import PinpointAutograd
@_exported import PinpointData
@_exported import PinpointLayers
@_exported import PinpointMetrics
@_exported import PinpointOptimizers
@_exported import PinpointModels
@_exported import PinpointTraining
@_exported import PinpointTensor
