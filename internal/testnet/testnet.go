// Package testnet keeps tests off the internet: LoopbackOnly wraps a
// transport so that any request to a host other than localhost or a
// loopback address fails before a connection is made. Tests give their
// HTTP clients (Bot API clients, web chat clients) this transport, so a
// misconfigured URL fails the test instead of reaching api.telegram.org.
package testnet

import (
	"fmt"
	"net"
	"net/http"
	"strings"
)

// LoopbackOnly returns a transport that refuses every non-loopback host and
// passes the rest to next (http.DefaultTransport when nil).
func LoopbackOnly(next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return loopbackOnly{next}
}

// Client is an *http.Client over LoopbackOnly(nil).
func Client() *http.Client { return &http.Client{Transport: LoopbackOnly(nil)} }

type loopbackOnly struct{ next http.RoundTripper }

func (l loopbackOnly) RoundTrip(r *http.Request) (*http.Response, error) {
	if !Loopback(r.URL.Hostname()) {
		if r.Body != nil {
			r.Body.Close()
		}
		return nil, fmt.Errorf("testnet: %s is not a loopback host: tests must not reach the internet", r.URL.Hostname())
	}
	return l.next.RoundTrip(r)
}

// Loopback reports whether host (a name or an IP, without port) is
// localhost or a loopback address. Names are not resolved.
func Loopback(host string) bool {
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
