package main

import "golang.org/x/sys/unix"

// streamBuffer allocates the bandwidth probe's buffer on transparent huge
// pages where the kernel grants them, as OpenInMemory does for weights, so
// the probe measures the best streaming rate of this machine.
func streamBuffer(size int) (buf []byte, free func()) {
	b, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return make([]byte, size), func() {}
	}
	_ = unix.Madvise(b, unix.MADV_HUGEPAGE)
	return b, func() { unix.Munmap(b) }
}
