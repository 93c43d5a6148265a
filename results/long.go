package results

// Long reports whether a results button starts long work (charts, the
// funnel, the comparison, exports), which staff runs on its work queue
// with a progress message; the other buttons edit the menu at once.
func (s *Service) Long(payload string) bool {
	verb, _, err := decodePayload(payload)
	if err != nil {
		return false
	}
	switch verb {
	case verbChart, verbFunnel, verbCompare, verbExportCSV, verbExportXLS:
		return true
	}
	return false
}
