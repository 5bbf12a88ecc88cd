package compute

import "time"

// Instruments a device backend may offer, for bench and tests of a step's
// structure. The CPU backend has none.

// DeviceCounters are running totals of the work a backend gave its device.
type DeviceCounters struct {
	Dispatches uint64        // kernel dispatches recorded
	Barriers   uint64        // pipeline barriers recorded between commands
	Submits    uint64        // queue submissions (each waited for)
	Replays    uint64        // submissions of captured steps
	BytesUp    uint64        // bytes the host wrote to the device (uploads, mapped writes)
	BytesDown  uint64        // bytes the host read back
	Prepare    time.Duration // host time spent turning ops into commands
	ReplayTime time.Duration // device time of the replays, first command to last (0 where the device has no timestamps)

	// Step is the structure of the most recently captured step (not a
	// running total): what each replay runs from one submission.
	Step StepStructure
}

// StepStructure is what one captured program holds: a decode step, or
// several chained greedy steps (Advancer).
type StepStructure struct {
	Steps      int `json:"steps"`
	Dispatches int `json:"dispatches"`
	Barriers   int `json:"barriers"` // pipeline barriers between its commands
}

// Sub returns c - o (with c's Step).
func (c DeviceCounters) Sub(o DeviceCounters) DeviceCounters {
	return DeviceCounters{c.Dispatches - o.Dispatches, c.Barriers - o.Barriers, c.Submits - o.Submits,
		c.Replays - o.Replays, c.BytesUp - o.BytesUp, c.BytesDown - o.BytesDown, c.Prepare - o.Prepare,
		c.ReplayTime - o.ReplayTime, c.Step}
}

// Plus returns c + o (with o's Step).
func (c DeviceCounters) Plus(o DeviceCounters) DeviceCounters {
	return DeviceCounters{c.Dispatches + o.Dispatches, c.Barriers + o.Barriers, c.Submits + o.Submits,
		c.Replays + o.Replays, c.BytesUp + o.BytesUp, c.BytesDown + o.BytesDown, c.Prepare + o.Prepare,
		c.ReplayTime + o.ReplayTime, o.Step}
}

// Counting is implemented by backends that count the work they give a
// device.
type Counting interface {
	Counters() DeviceCounters
}

// KernelTime is the device time of one kernel label (kernel and shape)
// over a profiled run, and the weight bytes its calls read.
type KernelTime struct {
	Label string
	Calls int
	Time  time.Duration
	Bytes int64
}

// KernelProfiler is implemented by backends that time every kernel on the
// device (timestamps), instead of the host-side op timing of Profiler.
type KernelProfiler interface {
	// ProfileKernels turns timing on or off; while on, steps are not
	// captured for replay.
	ProfileKernels(on bool) error
	// KernelTimes returns the times since the last call, largest first.
	KernelTimes() []KernelTime
}

// Timeline is where a device step's time went, read from the device
// clock by its kernels workgroup by workgroup: the timed dispatches in the
// order they were recorded.
type Timeline struct {
	Dispatches []TimedDispatch
	// Span is from the first timed workgroup's start to the last one's
	// end.
	Span time.Duration
	// ClockRate is the device clock's ticks per nanosecond, measured
	// against the device's timestamps.
	ClockRate float64
}

// TimedDispatch is one timed dispatch. Workgroup times are medians over
// its timed workgroups (a backend may time the first few only).
type TimedDispatch struct {
	Label      string
	Workgroups int // in the dispatch
	Timed      int // of them timed
	// Start is its first workgroup's start, from the timeline's start.
	Start time.Duration
	// Gap is Start less the end of the timed dispatch before it (the
	// last of its workgroups to count itself done; 0 for the first): the
	// cost of ordering the two, or with a chain, negative, their overlap.
	Gap time.Duration
	// Wait is a workgroup's time from its start until its wait for the
	// dispatch before it was over (chained; a matvec first issues its
	// weight loads), Prologue from then until its first phase was done
	// (a matvec's norm and quantization, the scores and softmax of
	// attention split in chunks; 0 where the kernel has none), Body from
	// then until it counted itself done.
	Wait, Prologue, Body time.Duration
	// Ramp is from the first workgroup's start to the last one's (a
	// second wave of workgroups starts as the first one's end), Span to
	// the last one's end.
	Ramp, Span time.Duration
}

// Timeliner is implemented by backends that can say where a step's time
// went on the device (see Timeline).
type Timeliner interface {
	// Timeline returns the last step's timeline; nil when timing is off
	// or no step was timed.
	Timeline() (*Timeline, error)
}

// PhaseTimes is what the matvecs of decode layers cost on a device when
// each waits for the outputs of the one before, apart from everything else
// a layer does (norms, attention): a calibration of bench --op-times. The
// same kernel runs them as one dispatch per matvec behind barriers, as a
// decode step runs its matvecs, and inside one persistent dispatch whose
// workgroups take the matvecs' rows in order and wait on counters.
type PhaseTimes struct {
	Layers     int           // layers timed, four matvecs each
	LayerBytes int64         // weight bytes of a layer
	Workgroup  int           // invocations per workgroup
	Dispatched time.Duration // per layer, a dispatch per matvec
	Persistent []PersistentTime
}

// PersistentTime is the time per layer of PhaseTimes' persistent dispatch
// with a given number of workgroups.
type PersistentTime struct {
	Workgroups int
	PerLayer   time.Duration
}

// PipelineStats is what a device's driver reports about one kernel it
// compiled (a pipeline: the kernel with its specialization constants):
// NVIDIA's register count, for one, which bounds how many workgroups a
// compute unit holds at once.
type PipelineStats struct {
	Kernel string // the kernel and its specialization constants, e.g. "matvec_i2s_dot [1024 2560 1 32 32 1 1]"
	Stats  []Stat
}

// Stat is one figure of PipelineStats, named as the driver names it.
type Stat struct {
	Name  string
	Value float64
}

// PipelineStatistician is implemented by backends that can report their
// kernels' compile statistics.
type PipelineStatistician interface {
	// PipelineStatistics returns the statistics of every kernel built so
	// far, by kernel; nil when the backend keeps none.
	PipelineStatistics() ([]PipelineStats, error)
}
