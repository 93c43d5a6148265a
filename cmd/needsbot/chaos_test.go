package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestChaosFlags checks the command's flag handling; the matrix itself is
// internal/chaos's TestChaosShort.
func TestChaosFlags(t *testing.T) {
	cases := []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"chaos", "-h"}, 0, "usage: needsbot chaos"},
		{[]string{"chaos", "--respondents", "-1"}, 2, "--respondents must be positive"},
		{[]string{"chaos", "--duration", "-1s"}, 2, "--duration not negative"},
		{[]string{"chaos", "extra"}, 2, "unexpected arguments"},
		{[]string{"chaos", "--nope"}, 2, "flag provided but not defined"},
	}
	for _, c := range cases {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), c.args, func(string) string { return "" }, nil, &stdout, &stderr)
		if code != c.code || !strings.Contains(stderr.String(), c.err) {
			t.Errorf("%v: exit %d, want %d; stderr %q should contain %q", c.args, code, c.code, stderr.String(), c.err)
		}
	}
}
