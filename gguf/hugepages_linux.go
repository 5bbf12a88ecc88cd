package gguf

import "golang.org/x/sys/unix"

// adviseHugePages asks for transparent huge pages (a hint; failure is fine).
func adviseHugePages(b []byte) { _ = unix.Madvise(b, unix.MADV_HUGEPAGE) }
