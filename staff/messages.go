package staff

import "github.com/needsbot/needsbot/bot"

// Message ids of the staff side (locales/staff.*.toml, prefix s.). Staff
// read English or Italian; other languages fall back to English.
const (
	msgRoleAdmin    = "s.role.admin"
	msgRoleManager  = "s.role.manager"
	msgRoleOperator = "s.role.operator"
	msgScopeAll     = "s.scope.all"
	msgScopeService = "s.scope.service"

	msgHelpOperator = "s.help.operator"
	msgHelpManager  = "s.help.manager"
	msgHelpAdmin    = "s.help.admin"

	msgEnrolDone      = "s.enrol.done"
	msgEnrolAgain     = "s.enrol.again"
	msgEnrolIsStaff   = "s.enrol.already_staff"
	msgEnrolExpired   = "s.enrol.expired"
	msgEnrolUsed      = "s.enrol.used"
	msgEnrolInvalid   = "s.enrol.invalid"
	msgEnrolNotify    = "s.enrol.notify"
	msgLinkRole       = "s.link.role"
	msgLinkMuni       = "s.link.municipality"
	msgLinkService    = "s.link.service"
	msgLinkValidity   = "s.link.validity"
	msgLinkCreated    = "s.link.created"
	msgStaffTitle     = "s.staff.title"
	msgStaffItem      = "s.staff.item"
	msgStaffYou       = "s.staff.you"
	msgStaffHint      = "s.staff.hint"
	msgStaffConfirm   = "s.staff.revoke_confirm"
	msgStaffRevoked   = "s.staff.revoked"
	msgInviteNew      = "s.invite.new"
	msgInviteLabel    = "s.invite.label"
	msgInviteForm     = "s.invite.form"
	msgInviteMuni     = "s.invite.municipality"
	msgInviteService  = "s.invite.service"
	msgInviteValid    = "s.invite.validity"
	msgInviteKind     = "s.invite.kind"
	msgInviteAskLabel = "s.invite.ask_label"
	msgInvitePersonal = "s.invite.personal_link"
	msgPosterPersonal = "s.invite.poster_personal"
	msgNamePoster     = "s.invite.name.poster"
	msgNamePersonal   = "s.invite.name.personal"
	msgSumKind        = "s.invite.sum.kind"
	msgInviteCreated  = "s.invite.created"
	msgInviteCaption  = "s.invite.caption"
	msgInviteLink     = "s.invite.link"
	msgSumForm        = "s.invite.sum.form"
	msgSumWhere       = "s.invite.sum.where"
	msgSumUntil       = "s.invite.sum.until"
	msgSumNoExpiry    = "s.invite.sum.no_expiry"
	msgSumUses        = "s.invite.sum.uses"
	msgSumUnlimited   = "s.invite.sum.unlimited"
	msgInvitesTitle   = "s.invites.title"
	msgInvitesItem    = "s.invites.item"
	msgInvitesNone    = "s.invites.none"
	msgMore           = "s.more"
	msgInvitesHint    = "s.invites.hint"
	msgInvConfirm     = "s.invites.revoke_confirm"
	msgInvRevoked     = "s.invites.revoked"
	msgInvNoReprint   = "s.invites.no_reprint"
	msgStatusActive   = "s.status.active"
	msgStatusExpired  = "s.status.expired"
	msgStatusRevoked  = "s.status.revoked"
	msgStatusUsedUp   = "s.status.exhausted"
	msgMuniTitle      = "s.muni.title"
	msgMuniItem       = "s.muni.item"
	msgMuniUsage      = "s.muni.usage"
	msgMuniAdded      = "s.muni.added"
	msgMuniExists     = "s.muni.exists"
	msgMuniBad        = "s.muni.bad"
	msgMuniUnknown    = "s.muni.unknown"
	msgSvcAdded       = "s.svc.added"
	msgSvcExists      = "s.svc.exists"
	msgSvcBad         = "s.svc.bad"
	// msgFormPrefix + form id: a questionnaire's short name on the
	// invite menu (the shipped forms have one; others show their title).
	msgFormPrefix = "s.form."
	msgCancelled  = "s.cancelled"
	msgGone       = "s.gone"
	msgMenuUsed   = "s.menu_used"

	msgFormNotXLSX      = "s.forms.not_xlsx"
	msgFormTooBig       = "s.forms.too_big"
	msgFormUnreadable   = "s.forms.unreadable"
	msgFormLintTitle    = "s.forms.lint_title"
	msgFormLintMore     = "s.forms.lint_more"
	msgFormRefused      = "s.forms.refused"
	msgFormVersionTaken = "s.forms.version_taken"
	msgFormShipped      = "s.forms.shipped"
	msgFormPreview      = "s.forms.preview"
	msgFormLeftOut      = "s.forms.left_out"
	msgFormMissingN     = "s.forms.missing_n"
	msgFormWalk         = "s.forms.walk"
	msgFormNotes        = "s.forms.notes"
	msgFormReplaces     = "s.forms.replaces"
	msgFormConfirm      = "s.forms.confirm"
	msgFormPublished    = "s.forms.published"
	msgFormAlready      = "s.forms.already"
	msgFormExpired      = "s.forms.expired"
	btnPublish          = "s.btn.publish"

	msgWorkPreparing = "s.work.preparing"
	msgWorkTooLong   = "s.work.too_long"
	msgWorkBusy      = "s.work.busy"

	msgDirTitle          = "s.dir.title"
	msgDirPickMuni       = "s.dir.pick_municipality"
	msgDirListTitle      = "s.dir.list_title"
	msgDirEmpty          = "s.dir.empty"
	msgDirCard           = "s.dir.card"
	msgDirVisible        = "s.dir.visible"
	msgDirHidden         = "s.dir.hidden"
	msgDirEntry          = "s.dir.entry"
	msgDirNeedsArea      = "s.dir.needs_area"
	msgDirExists         = "s.dir.exists"
	msgDirAskName        = "s.dir.ask.name"
	msgDirAskAddress     = "s.dir.ask.address"
	msgDirAskCoords      = "s.dir.ask.coordinates"
	msgDirAskPhone       = "s.dir.ask.phone"
	msgDirAskWebsite     = "s.dir.ask.website"
	msgDirAskHours       = "s.dir.ask.hours"
	msgDirAskLanguages   = "s.dir.ask.languages"
	msgDirAskAreas       = "s.dir.ask.areas"
	msgDirAskFree        = "s.dir.ask.free"
	msgDirAskAppointment = "s.dir.ask.appointment"
	msgDirBadText        = "s.dir.bad.text"
	msgDirBadCoords      = "s.dir.bad.coordinates"
	msgDirBadWebsite     = "s.dir.bad.website"

	btnBack           = "s.btn.back"
	btnReply          = "s.btn.reply"
	btnDirAdd         = "s.btn.dir.add"
	btnDirHide        = "s.btn.dir.hide"
	btnDirShow        = "s.btn.dir.show"
	btnDirSkip        = "s.btn.dir.skip"
	btnDirRemove      = "s.btn.dir.remove"
	btnDirDone        = "s.btn.dir.done"
	btnDirNotSaid     = "s.btn.dir.not_said"
	btnDirFreeYes     = "s.btn.dir.free_yes"
	btnDirFreeNo      = "s.btn.dir.free_no"
	btnDirApptYes     = "s.btn.dir.appointment_yes"
	btnDirApptNo      = "s.btn.dir.appointment_no"
	btnDirName        = "s.btn.dir.name"
	btnDirAddress     = "s.btn.dir.address"
	btnDirCoords      = "s.btn.dir.coordinates"
	btnDirPhone       = "s.btn.dir.phone"
	btnDirWebsite     = "s.btn.dir.website"
	btnDirHours       = "s.btn.dir.hours"
	btnDirLanguages   = "s.btn.dir.languages"
	btnDirAreas       = "s.btn.dir.areas"
	btnDirFree        = "s.btn.dir.free"
	btnDirAppointment = "s.btn.dir.appointment"

	btnNewLink       = "s.btn.new_link"
	btnRevokeN       = "s.btn.revoke_n"
	btnPosterN       = "s.btn.poster_n"
	btnConfirm       = "s.btn.confirm_revoke"
	btnCancel        = "s.btn.cancel"
	btnDays          = "s.btn.days"
	btnNoExpiry      = "s.btn.no_expiry"
	btnKindPoster    = "s.btn.kind.poster"
	btnKindPersonal  = "s.btn.kind.personal"
	btnNoLabel       = "s.btn.no_label"
	btnPosterInstead = "s.btn.poster_instead"
	btnPrintAnyway   = "s.btn.print_anyway"
	btnNoService     = "s.btn.no_service"
	btnAnyService    = "s.btn.any_service"
	btnPrev          = "s.btn.prev"
	btnNext          = "s.btn.next"
	btnRoleAdmin     = "s.btn.role.admin"
	btnRoleManager   = "s.btn.role.manager"
	btnRoleOper      = "s.btn.role.operator"
)

// MessageIDs lists every message id the staff side renders, for lint,
// with the short names of the given forms (those shipped with the binary
// have one; a form published at run time shows its title).
func MessageIDs(forms ...string) []string {
	ids := []string{
		msgRoleAdmin, msgRoleManager, msgRoleOperator, msgScopeAll, msgScopeService,
		msgHelpOperator, msgHelpManager, msgHelpAdmin,
		msgEnrolDone, msgEnrolAgain, msgEnrolIsStaff, msgEnrolExpired, msgEnrolUsed, msgEnrolInvalid, msgEnrolNotify,
		msgLinkRole, msgLinkMuni, msgLinkService, msgLinkValidity, msgLinkCreated,
		msgStaffTitle, msgStaffItem, msgStaffYou, msgStaffHint, msgStaffConfirm, msgStaffRevoked,
		msgInviteNew, msgInviteLabel, msgInviteForm, msgInviteMuni, msgInviteService, msgInviteValid, msgInviteKind, msgInviteAskLabel, msgInvitePersonal, msgPosterPersonal, msgNamePoster, msgNamePersonal, msgSumKind,
		msgInviteCreated, msgInviteLink, msgInviteCaption, msgSumForm, msgSumWhere, msgSumUntil, msgSumNoExpiry, msgSumUses, msgSumUnlimited,
		msgInvitesTitle, msgInvitesItem, msgInvitesNone, msgMore, msgInvitesHint, msgInvConfirm, msgInvRevoked, msgInvNoReprint,
		msgStatusActive, msgStatusExpired, msgStatusRevoked, msgStatusUsedUp,
		msgMuniTitle, msgMuniItem, msgMuniUsage, msgMuniAdded, msgMuniExists, msgMuniBad, msgMuniUnknown,
		msgSvcAdded, msgSvcExists, msgSvcBad,
		msgCancelled, msgGone, msgMenuUsed,
		btnNewLink, btnRevokeN, btnPosterN, btnConfirm, btnCancel, btnDays, btnNoExpiry, btnKindPoster, btnKindPersonal, btnNoLabel, btnPosterInstead, btnPrintAnyway,
		btnNoService, btnAnyService, btnPrev, btnNext, btnRoleAdmin, btnRoleManager, btnRoleOper,
		bot.MsgError, bot.MsgInviteLimited,
		msgPosterScan,
		msgWorkPreparing, msgWorkTooLong, msgWorkBusy,
		msgFormNotXLSX, msgFormTooBig, msgFormUnreadable, msgFormLintTitle, msgFormLintMore, msgFormRefused, msgFormVersionTaken, msgFormShipped,
		msgFormPreview, msgFormLeftOut, msgFormMissingN, msgFormWalk, msgFormNotes, msgFormReplaces, msgFormConfirm, msgFormPublished, msgFormAlready, msgFormExpired, btnPublish,
		msgDirTitle, msgDirPickMuni, msgDirListTitle, msgDirEmpty, msgDirCard, msgDirVisible, msgDirHidden, msgDirEntry,
		msgDirNeedsArea, msgDirExists, msgDirAskName, msgDirAskAddress, msgDirAskCoords, msgDirAskPhone, msgDirAskWebsite,
		msgDirAskHours, msgDirAskLanguages, msgDirAskAreas, msgDirAskFree, msgDirAskAppointment,
		msgDirBadText, msgDirBadCoords, msgDirBadWebsite,
		btnBack, btnReply, btnDirAdd, btnDirHide, btnDirShow, btnDirSkip, btnDirRemove, btnDirDone, btnDirNotSaid,
		btnDirFreeYes, btnDirFreeNo, btnDirApptYes, btnDirApptNo, btnDirName, btnDirAddress, btnDirCoords, btnDirPhone,
		btnDirWebsite, btnDirHours, btnDirLanguages, btnDirAreas, btnDirFree, btnDirAppointment,
	}
	for _, f := range forms {
		ids = append(ids, msgFormPrefix+f)
	}
	return ids
}
