package main

import (
	"bytes"
	"context"
	"regexp"
	"strconv"
	"testing"
)

// TestSimulateWalks: `simulate --walks` reports the distribution of
// question screens, within issue 14's bound for immigrati v2.
func TestSimulateWalks(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	args := []string{"simulate", "--form", "immigrati", "--walks", "200"}
	if code := run(context.Background(), args, func(string) string { return "" }, nil, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	m := regexp.MustCompile(`immigrati v2: 200 random walks: question screens median (\d+), 90th percentile (\d+), min (\d+), longest (\d+)`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("unexpected report: %q", out.String())
	}
	longest, _ := strconv.Atoi(m[4])
	if longest > 28 {
		t.Errorf("longest walk %d question screens, target at most 28", longest)
	}
	out.Reset()
	args = []string{"simulate", "--form", "immigrati", "--version", "1", "--walks", "50"}
	if code := run(context.Background(), args, func(string) string { return "" }, nil, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if !regexp.MustCompile(`^immigrati v1: 50 random walks`).MatchString(out.String()) {
		t.Fatalf("--version 1 not honoured: %q", out.String())
	}
}
