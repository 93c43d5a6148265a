package dialog

import (
	"encoding/json"
	"errors"
	"fmt"
)

// encodingVersion is the version of the State encoding; Decode rejects
// other versions rather than misreading them.
const encodingVersion = 1

// wireState is State with short JSON names: a half-finished interview
// encodes well under 1 KiB.
type wireState struct {
	E  int               `json:"e"`
	F  string            `json:"f"`
	FV int               `json:"fv"`
	V  uint64            `json:"v"`
	Q  uint32            `json:"q,omitempty"`
	Ph Phase             `json:"ph,omitempty"`
	L  string            `json:"l,omitempty"`
	Ls []string          `json:"ls,omitempty"`
	P  int               `json:"p"`
	B  []int             `json:"b,omitempty"`
	A  map[string]string `json:"a,omitempty"`
	Pe string            `json:"pe,omitempty"`
	C  map[string]string `json:"c,omitempty"`
	Co bool              `json:"co,omitempty"`
	S  int64             `json:"s,omitempty"`
	U  int64             `json:"u,omitempty"`
	R  string            `json:"r,omitempty"`
	O  string            `json:"o,omitempty"`
}

// Encode serialises a state. Decode(Encode(s)) equals s.
func Encode(s State) ([]byte, error) {
	return json.Marshal(wireState{
		E: encodingVersion, F: s.Form, FV: s.FormVersion, V: s.Version, Q: s.Seq, Ph: s.Phase,
		L: s.Lang, Ls: s.Langs, P: s.Pos, B: s.Back, A: s.Answers, Pe: s.Pending, C: s.Context,
		Co: s.Consent, S: s.Started, U: s.Updated, R: s.Reached, O: s.Outcome,
	})
}

// ErrEncoding is returned for data that is not an encoded State.
var ErrEncoding = errors.New("not an encoded interview state")

// Decode reads a state written by Encode.
func Decode(b []byte) (State, error) {
	var w wireState
	if err := json.Unmarshal(b, &w); err != nil {
		return State{}, fmt.Errorf("%w: %v", ErrEncoding, err)
	}
	if w.E != encodingVersion {
		return State{}, fmt.Errorf("%w: encoding version %d", ErrEncoding, w.E)
	}
	if w.Ph > PhaseDone {
		return State{}, fmt.Errorf("%w: phase %d", ErrEncoding, w.Ph)
	}
	return State{
		Form: w.F, FormVersion: w.FV, Version: w.V, Seq: w.Q, Phase: w.Ph, Lang: w.L, Langs: w.Ls,
		Pos: w.P, Back: w.B, Answers: w.A, Pending: w.Pe, Context: w.C, Consent: w.Co,
		Started: w.S, Updated: w.U, Reached: w.R, Outcome: w.O,
	}, nil
}
