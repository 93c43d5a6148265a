package redisstore

import (
	"strings"
	"testing"
)

// Load's errors end up in logs: they never carry the reply's content.
func TestParseLoadErrorsHoldNoContent(t *testing.T) {
	const secret = "ANSWER-permesso-asilo"
	for _, res := range [][]any{
		{"", "1", secret},                 // wrong length
		{int64(7), "1", secret, "0"},      // bad seen record
		{"", secret, secret, "0"},         // bad version
		{"", "1", secret, secret},         // bad message id
		{[]any{secret}, "1", secret, "0"}, // bad type
	} {
		_, _, _, _, err := parseLoad(res)
		if err == nil {
			t.Fatalf("%v: no error", res)
		}
		if strings.Contains(err.Error(), "ANSWER") {
			t.Errorf("error shows the reply: %v", err)
		}
	}
}
