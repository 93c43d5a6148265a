package telegramtest

import (
	"bytes"
	"encoding/json"

	"github.com/go-telegram/bot/models"
)

// The wire types below are the subset of Bot API objects the fake produces.
// They are written out rather than borrowed from go-telegram/bot/models because
// several models types do not marshal as Telegram does (InlineKeyboardButton
// always emits "copy_text":{"text":""}, CallbackQuery.Message needs a
// pointer receiver, Sticker always emits custom_emoji_id), and the fake should
// send exactly what Telegram would. Leaf types that marshal correctly are
// reused.

type wireUser struct {
	ID                      int64  `json:"id"`
	IsBot                   bool   `json:"is_bot"`
	FirstName               string `json:"first_name"`
	LastName                string `json:"last_name,omitempty"`
	Username                string `json:"username,omitempty"`
	LanguageCode            string `json:"language_code,omitempty"`
	CanJoinGroups           *bool  `json:"can_join_groups,omitempty"`
	CanReadAllGroupMessages *bool  `json:"can_read_all_group_messages,omitempty"`
	SupportsInlineQueries   *bool  `json:"supports_inline_queries,omitempty"`
}

type wireChat struct {
	ID        int64  `json:"id"`
	Type      string `json:"type"`
	Title     string `json:"title,omitempty"`
	Username  string `json:"username,omitempty"`
	FirstName string `json:"first_name,omitempty"`
	LastName  string `json:"last_name,omitempty"`
}

type wireOrigin struct {
	Type           string    `json:"type"`
	Date           int64     `json:"date"`
	SenderUser     *wireUser `json:"sender_user,omitempty"`
	SenderUserName string    `json:"sender_user_name,omitempty"`
}

type wireSticker struct {
	FileID       string `json:"file_id"`
	FileUniqueID string `json:"file_unique_id"`
	Type         string `json:"type"`
	Width        int    `json:"width"`
	Height       int    `json:"height"`
	IsAnimated   bool   `json:"is_animated"`
	IsVideo      bool   `json:"is_video"`
	Emoji        string `json:"emoji,omitempty"`
	FileSize     int    `json:"file_size,omitempty"`
}

type wireMessage struct {
	MessageID          int                    `json:"message_id"`
	From               *wireUser              `json:"from,omitempty"`
	SenderChat         *wireChat              `json:"sender_chat,omitempty"`
	Date               int64                  `json:"date"`
	Chat               wireChat               `json:"chat"`
	ForwardOrigin      *wireOrigin            `json:"forward_origin,omitempty"`
	ReplyToMessage     *wireMessage           `json:"reply_to_message,omitempty"`
	EditDate           int64                  `json:"edit_date,omitempty"`
	Text               string                 `json:"text,omitempty"`
	Entities           []models.MessageEntity `json:"entities,omitempty"`
	LinkPreviewOptions json.RawMessage        `json:"link_preview_options,omitempty"`
	Document           *models.Document       `json:"document,omitempty"`
	Photo              []models.PhotoSize     `json:"photo,omitempty"`
	Sticker            *wireSticker           `json:"sticker,omitempty"`
	Voice              *models.Voice          `json:"voice,omitempty"`
	Caption            string                 `json:"caption,omitempty"`
	CaptionEntities    []models.MessageEntity `json:"caption_entities,omitempty"`
	Contact            *models.Contact        `json:"contact,omitempty"`
	Location           *models.Location       `json:"location,omitempty"`
	Venue              *models.Venue          `json:"venue,omitempty"`
	ReplyMarkup        *wireInlineKeyboard    `json:"reply_markup,omitempty"`
}

type wireInlineKeyboard struct {
	InlineKeyboard [][]button `json:"inline_keyboard"`
}

type wireCallbackQuery struct {
	ID           string       `json:"id"`
	From         wireUser     `json:"from"`
	Message      *wireMessage `json:"message,omitempty"`
	ChatInstance string       `json:"chat_instance"`
	Data         string       `json:"data,omitempty"`
}

type wireChatMember struct {
	Status    string   `json:"status"`
	User      wireUser `json:"user"`
	UntilDate *int64   `json:"until_date,omitempty"`
}

type wireChatMemberUpdated struct {
	Chat          wireChat       `json:"chat"`
	From          wireUser       `json:"from"`
	Date          int64          `json:"date"`
	OldChatMember wireChatMember `json:"old_chat_member"`
	NewChatMember wireChatMember `json:"new_chat_member"`
}

type wireUpdate struct {
	UpdateID      int64                  `json:"update_id"`
	Message       *wireMessage           `json:"message,omitempty"`
	EditedMessage *wireMessage           `json:"edited_message,omitempty"`
	ChannelPost   *wireMessage           `json:"channel_post,omitempty"`
	CallbackQuery *wireCallbackQuery     `json:"callback_query,omitempty"`
	MyChatMember  *wireChatMemberUpdated `json:"my_chat_member,omitempty"`
}

type wireWebhookInfo struct {
	URL                  string   `json:"url"`
	HasCustomCertificate bool     `json:"has_custom_certificate"`
	PendingUpdateCount   int      `json:"pending_update_count"`
	LastErrorDate        int64    `json:"last_error_date,omitempty"`
	LastErrorMessage     string   `json:"last_error_message,omitempty"`
	MaxConnections       int      `json:"max_connections,omitempty"`
	AllowedUpdates       []string `json:"allowed_updates,omitempty"`
}

type okResponse struct {
	OK          bool   `json:"ok"`
	Result      any    `json:"result"`
	Description string `json:"description,omitempty"`
}

type errorResponse struct {
	OK          bool            `json:"ok"`
	ErrorCode   int             `json:"error_code"`
	Description string          `json:"description"`
	Parameters  *responseParams `json:"parameters,omitempty"`
}

type responseParams struct {
	RetryAfter int `json:"retry_after,omitempty"`
}

// MarshalJSON writes a button as Telegram echoes it: its text and the one
// action field it was created with.
func (b button) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	text, err := json.Marshal(b.Text)
	if err != nil {
		return nil, err
	}
	buf.WriteString(`{"text":`)
	buf.Write(text)
	if b.kind != "" {
		key, _ := json.Marshal(b.kind)
		buf.WriteByte(',')
		buf.Write(key)
		buf.WriteByte(':')
		buf.Write(b.value)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}
