package bot

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	tgmodels "github.com/go-telegram/bot/models"

	"github.com/needsbot/needsbot/bot/telegramtest"
)

// docStaff takes documents from one admin only, downloading them.
type docStaff struct {
	admin int64
	got   []byte
	name  string
	err   error
}

func (s *docStaff) Command(context.Context, *Request, string, string) (bool, error) {
	return false, nil
}
func (s *docStaff) Callback(context.Context, *Request, Callback, string, int) (bool, error) {
	return false, nil
}
func (s *docStaff) Start(context.Context, *Request, string) (bool, error) { return false, nil }
func (s *docStaff) Document(ctx context.Context, r *Request, fileID, name string) (bool, error) {
	if r.User != s.admin {
		return false, nil
	}
	s.got, s.err = r.Sender.Download(ctx, fileID)
	s.name = name
	return true, nil
}

func docUpdate(id, chat int64, f *telegramtest.File) *Update {
	return updateOf(&tgmodels.Update{ID: id, Message: &tgmodels.Message{ID: int(id), Date: int(time.Now().Unix()),
		Document: &tgmodels.Document{FileID: f.ID, FileUniqueID: f.UniqueID, FileName: f.Name, FileSize: int64(len(f.Data))},
		Chat:     tgmodels.Chat{ID: chat, Type: tgmodels.ChatTypePrivate},
		From:     &tgmodels.User{ID: chat, FirstName: "T", LanguageCode: "it"}}})
}

// TestStaffDocument: an admin's document reaches the staff handler, which
// downloads the very bytes sent; anyone else's document gets the usual
// answer to media and the staff handler keeps nothing.
func TestStaffDocument(t *testing.T) {
	r := newRig(t)
	staff := &docStaff{admin: 501}
	r.handler.cfg.Staff = staff
	data := []byte("PK\x03\x04 a workbook")
	admin, other := r.srv.User(501, telegramtest.LanguageCode("it")), r.srv.User(502, telegramtest.LanguageCode("it"))
	admin.SendDocument("vicinato.xlsx", data)
	other.SendDocument("other.xlsx", []byte("PK\x03\x04 other"))
	af, of := admin.Last().File, other.Last().File
	if _, err := r.intake.Submit(context.Background(), docUpdate(1, 501, af), false, 0); err != nil {
		t.Fatal(err)
	}
	if staff.err != nil || !bytes.Equal(staff.got, data) || staff.name != "vicinato.xlsx" {
		t.Fatalf("admin's document: %q %q %v", staff.got, staff.name, staff.err)
	}
	staff.got, staff.name = nil, ""
	if _, err := r.intake.Submit(context.Background(), docUpdate(2, 502, of), false, 0); err != nil {
		t.Fatal(err)
	}
	if staff.got != nil || staff.name != "" {
		t.Errorf("a non-admin's document was taken: %q", staff.name)
	}
	want := r.handler.Renderer().Plain("it", MsgOnlyText, nil)
	if last := other.Last(); !last.FromBot || !strings.Contains(last.Text, want) {
		t.Errorf("non-admin got no media answer: %+v", last)
	}
}
