package shim

// LabHostMarker is for shim_test, which imports labhost: that imports this
// package, so only an external test can compare the two.
const LabHostMarker = labHostMarker
