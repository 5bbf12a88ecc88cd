//go:build unix && !linux

package gguf

import (
	"os"

	"golang.org/x/sys/unix"
)

// adviseHugePages is a no-op where transparent huge pages do not exist.
func adviseHugePages([]byte) {}

// settleMapping faults the mapping in.
func settleMapping(_ *os.File, data []byte) {
	_ = unix.Madvise(data, unix.MADV_WILLNEED)
	prefault(data)
}
