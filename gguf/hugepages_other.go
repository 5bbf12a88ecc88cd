//go:build unix && !linux

package gguf

// adviseHugePages is a no-op where transparent huge pages do not exist.
func adviseHugePages([]byte) {}
