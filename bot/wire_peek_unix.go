//go:build unix

package bot

import (
	"net"
	"syscall"
)

// peekOpen reports whether the server has neither closed c nor sent
// anything on it, by a peek at its socket that does not wait.
func peekOpen(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	open := true
	err = rc.Read(func(fd uintptr) bool {
		var b [1]byte
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		// Nothing to read (EAGAIN) is an open, quiet connection; a byte is
		// a reply nobody asked for, 0 bytes the server's close.
		open = err == syscall.EAGAIN || err == syscall.EWOULDBLOCK
		return true
	})
	return err == nil && open
}
