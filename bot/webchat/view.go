package webchat

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/go-telegram/bot/models"

	"github.com/needsbot/needsbot/bot/telegramtest"
)

// deepLinkStart is the message a t.me/bot?start=PAYLOAD link sends.
var deepLinkStart = regexp.MustCompile(`^/start(@[A-Za-z0-9_]+)? [A-Za-z0-9_-]{1,64}$`)

// chatView is GET /api/chat: the chat as the person sees it.
type chatView struct {
	User    int64  `json:"user"`
	Persona string `json:"persona"`
	Lang    string `json:"lang"`
	Version uint64 `json:"version"`
	// Pending counts the person's updates the bot has not acknowledged.
	Pending int `json:"pending"`
	// Busy says the bot has not finished with the person's updates: some
	// are not acknowledged (Pending), or the bot still works on them
	// (Options.WaitIdle). The page shows "typing…" while it is set.
	Busy     bool          `json:"busy"`
	Action   string        `json:"action,omitempty"` // the bot's chat action ("typing")
	Blocked  bool          `json:"blocked"`
	Messages []messageView `json:"messages"`
	// Toasts are the bot's answers to taps that carry a text.
	Toasts        []toastView   `json:"toasts"`
	ReplyKeyboard [][]string    `json:"reply_keyboard,omitempty"`
	Commands      []commandView `json:"commands"`
}

type messageView struct {
	ID      int            `json:"id"`
	FromBot bool           `json:"from_bot"`
	Date    int64          `json:"date"` // Unix seconds
	Edited  bool           `json:"edited"`
	Kind    string         `json:"kind"`
	HTML    string         `json:"html"` // safe HTML of the text or caption
	Buttons [][]buttonView `json:"buttons,omitempty"`
	File    *fileView      `json:"file,omitempty"`
	Extra   string         `json:"extra,omitempty"` // sticker emoji, location, contact…
}

type buttonView struct {
	Text string `json:"text"`
	URL  string `json:"url,omitempty"` // URL buttons; callback buttons have none
}

type fileView struct {
	Name string `json:"name"`
	MIME string `json:"mime"`
	Size int    `json:"size"`
	URL  string `json:"url"`
}

type toastView struct {
	ID    string `json:"id"`
	Text  string `json:"text"`
	Alert bool   `json:"alert"`
}

type commandView struct {
	Command     string `json:"command"`
	Description string `json:"description"`
}

func (s *Server) view(c telegramtest.Chat, user int64, ss *session, working bool) chatView {
	s.mu.Lock()
	lang, persona := ss.lang, ss.persona.Key
	s.mu.Unlock()
	v := chatView{
		User: user, Persona: persona, Lang: lang, Version: c.Version, Pending: c.Pending, Busy: c.Pending > 0 || working, Action: c.Action,
		Blocked: c.Blocked, Messages: []messageView{}, Toasts: []toastView{}, ReplyKeyboard: c.ReplyKeyboard,
		Commands: s.commands(user, lang),
	}
	for _, m := range c.Messages {
		// The bot edits its question card at every answer; Telegram does
		// not mark a bot's edits of messages with buttons as "edited", so
		// neither does the page.
		mv := messageView{ID: m.ID, FromBot: m.FromBot, Date: m.Date.Unix(), Edited: !m.FromBot && !m.EditDate.IsZero(), Kind: string(m.Kind),
			HTML: renderHTML(m.Text, m.Entities)}
		if !m.FromBot && deepLinkStart.MatchString(m.Text) {
			// A t.me link's START shows as a plain "/start" in Telegram:
			// the payload (the invite) is not the respondent's words.
			mv.HTML = renderHTML("/start", []models.MessageEntity{{Type: models.MessageEntityTypeBotCommand, Offset: 0, Length: 6}})
		}
		for _, row := range m.Buttons {
			var r []buttonView
			for _, b := range row {
				bv := buttonView{Text: b.Text}
				if b.URL != "" {
					if href, ok := safeURL(b.URL); ok {
						bv.URL = href
					} else {
						bv.URL = "#"
					}
				}
				r = append(r, bv)
			}
			mv.Buttons = append(mv.Buttons, r)
		}
		if f := m.File; f != nil {
			fv := &fileView{Name: f.Name, MIME: f.MIME, Size: len(f.Data)}
			if f.Data != nil {
				fv.URL = "/api/file?user=" + strconv.FormatInt(user, 10) + "&message=" + strconv.Itoa(m.ID)
			}
			mv.File = fv
		}
		switch m.Kind {
		case telegramtest.KindSticker:
			mv.Extra = m.Emoji
		case telegramtest.KindVoice:
			mv.Extra = strconv.Itoa(m.Duration) + " s"
		case telegramtest.KindLocation:
			mv.Extra = strconv.FormatFloat(m.Location.Latitude, 'f', 5, 64) + ", " + strconv.FormatFloat(m.Location.Longitude, 'f', 5, 64)
		case telegramtest.KindContact:
			mv.Extra = m.Contact.PhoneNumber
		case telegramtest.KindVenue:
			// A map pin (the services card's nearest office): its title
			// and address, as a Telegram client shows under the map.
			if m.Venue != nil {
				mv.Extra = m.Venue.Title + " — " + m.Venue.Address
			}
		}
		v.Messages = append(v.Messages, mv)
	}
	for _, cb := range c.Callbacks {
		if cb.Answered && cb.Text != "" {
			v.Toasts = append(v.Toasts, toastView{ID: cb.QueryID, Text: cb.Text, Alert: cb.ShowAlert})
		}
	}
	return v
}

// commands returns the bot's command menu for the user as a Telegram
// client resolves it: the most specific scope that has commands, in the
// user's language if set for it, else for all languages.
func (s *Server) commands(user int64, lang string) []commandView {
	base, _, _ := strings.Cut(lang, "-")
	langs := []string{""}
	if base != "" {
		langs = []string{base, ""}
	}
	for _, scope := range []string{"chat:" + strconv.FormatInt(user, 10), "all_private_chats", "default"} {
		for _, l := range langs {
			if cmds := s.tg.Commands(scope, l); len(cmds) > 0 {
				out := make([]commandView, len(cmds))
				for i, c := range cmds {
					out[i] = commandView{Command: "/" + c.Command, Description: c.Description}
				}
				return out
			}
		}
	}
	return []commandView{}
}
