package testnet

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// A transport that records whether it was reached.
type recorder struct{ reached bool }

func (r *recorder) RoundTrip(*http.Request) (*http.Response, error) {
	r.reached = true
	return nil, errors.New("recorder: not a real transport")
}

func TestLoopbackOnlyRefusesOtherHosts(t *testing.T) {
	for _, u := range []string{
		"https://api.telegram.org/botTOKEN/getMe",
		"http://example.com/",
		"http://8.8.8.8:53/",
		"http://[2001:4860:4860::8888]/",
		"http://localhost.example.com/",
		"http://127.0.0.1.nip.io/",
	} {
		rec := &recorder{}
		c := &http.Client{Transport: LoopbackOnly(rec)}
		_, err := c.Get(u)
		if err == nil || !strings.Contains(err.Error(), "not a loopback host") {
			t.Errorf("%s: err %v, want a refusal", u, err)
		}
		if rec.reached {
			t.Errorf("%s: the inner transport was reached", u)
		}
	}
}

func TestLoopbackOnlyPassesLoopback(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok")) }))
	defer srv.Close()
	resp, err := Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	for _, h := range []string{"localhost", "LOCALHOST", "api.localhost", "127.0.0.1", "127.1.2.3", "::1"} {
		if !Loopback(h) {
			t.Errorf("%s: not loopback", h)
		}
	}
}
