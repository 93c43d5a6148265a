package dialog

// MessageIDs lists every message id the form's texts use: title, group
// labels, question labels, hints, constraint messages, summary labels and
// choice labels.
func (f *Form) MessageIDs() []string {
	ids := []string{f.Title}
	seenGroup := map[*Group]bool{}
	usedList := map[*List]bool{}
	for _, q := range f.Questions {
		for _, g := range q.Groups {
			if !seenGroup[g] && g.Label != "" {
				seenGroup[g] = true
				ids = append(ids, g.Label)
			}
		}
		for _, id := range []string{q.Label, q.Hint, q.ConstraintMsg, q.Summary} {
			if id != "" {
				ids = append(ids, id)
			}
		}
		if q.List != nil && !usedList[q.List] {
			usedList[q.List] = true
			for _, c := range q.List.Choices {
				ids = append(ids, c.Label)
			}
		}
	}
	return ids
}

// EngineMessageIDs lists the message ids Step itself emits.
func EngineMessageIDs() []string {
	ids := []string{
		MsgProgress, MsgBack, MsgSkip, MsgDone, MsgOK, MsgTypeText, MsgTypeNumber, MsgChoose,
		MsgBadInteger, MsgBadDecimal, MsgBadRange, MsgBadDate, MsgRequired, MsgConstraint,
		MsgTooLong, MsgMinSelected, MsgMaxSelected, MsgExclusive, MsgNotSkippable, MsgStale,
		MsgAnswered, MsgYear, MsgMonth, MsgDoneAlready, MsgRestarted, MsgStartAgain, MsgExpired,
		MsgLangChanged, MsgNothingToBack, MsgNoneTicked, MsgNoneTickedPnta,
	}
	for m := 1; m <= 12; m++ {
		ids = append(ids, MonthMsg(m))
	}
	return ids
}
