package cpu_test

import (
	"testing"

	"bitnet/cpu"
	"bitnet/engine/compute/computetest"
)

// TestConformance runs the shared op suite on the multi-threaded path
// against the scalar reference.
func TestConformance(t *testing.T) {
	be := cpu.New(cpu.Options{Threads: 2})
	defer be.Close()
	computetest.Run(t, be, computetest.Cases())
}
