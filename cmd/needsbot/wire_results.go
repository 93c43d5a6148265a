package main

import "github.com/needsbot/needsbot/staff"

// wireResults builds /results and /export (package results).
func (a *app) wireResults() staff.Results { return nil }
