//go:build linux || darwin || freebsd

package hub

import "golang.org/x/sys/unix"

// diskFree reports the bytes available to this user on dir's file system.
func diskFree(dir string) (uint64, bool) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, false
	}
	return uint64(st.Bavail) * uint64(st.Bsize), true
}
