package bot

// Respondent messages of the privacy and abuse paths (every language).
const (
	// MsgRestartLink answers /restart after a finished interview when an
	// invite is needed: a new interview starts from the link, checked anew.
	MsgRestartLink = "b.restart_link"
	// MsgDeleteChat follows MsgDeleteDone: which messages of the chat were
	// deleted and what Telegram does not let the bot delete. Args: N.
	MsgDeleteChat = "b.delete.chat"
	// MsgSlowDown is sent once when a person sends too many updates in a
	// short time; further updates are dropped until the rate falls.
	MsgSlowDown = "b.slow_down"
	// MsgTapStale tells that a tap did nothing (a stale, forged or
	// outdated button) when its answer went out before its turn and no
	// question card follows to carry the notice (turn.refuseTap).
	MsgTapStale = "b.tap_stale"
)

// coreMessageIDs are the ids above, for lint (MessageIDs).
func coreMessageIDs() []string {
	return []string{MsgRestartLink, MsgDeleteChat, MsgSlowDown, MsgOneMoment, MsgTapStale}
}
