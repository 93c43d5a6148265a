package telegramtest_test

import (
	"bytes"
	"io"
	"net/http"
	"testing"

	tg "github.com/go-telegram/bot"
)

// A document a user sends can be fetched by the bot: getFile, then a download
// from the link the bot library builds; unknown ids and wrong tokens fail.
func TestGetFileDownload(t *testing.T) {
	srv := newServer(t)
	b := newBot(t, srv)
	ctx := ctxT(t)
	data := []byte("PK\x03\x04 workbook bytes")
	srv.User(41).SendDocument("form.xlsx", data)
	ups := getUpdates(t, srv, nil)
	if len(ups) != 1 || ups[0].Message == nil || ups[0].Message.Document == nil {
		t.Fatalf("updates = %+v", ups)
	}
	doc := ups[0].Message.Document
	f, err := b.GetFile(ctx, &tg.GetFileParams{FileID: doc.FileID})
	if err != nil {
		t.Fatalf("getFile: %v", err)
	}
	if f.FileID != doc.FileID || f.FileSize != int64(len(data)) || f.FilePath == "" {
		t.Fatalf("file = %+v", f)
	}
	resp, err := http.Get(b.FileDownloadLink(f))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Equal(got, data) {
		t.Fatalf("download: %d %q", resp.StatusCode, got)
	}
	if _, err := b.GetFile(ctx, &tg.GetFileParams{FileID: "nope"}); err == nil {
		t.Error("getFile of an unknown id succeeded")
	}
	resp, err = http.Get(srv.URL + "/file/botWRONG/" + f.FilePath)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong token download: %d", resp.StatusCode)
	}
	resp, err = http.Get(srv.URL + "/file/bot" + srv.Token() + "/documents/missing")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("missing file download: %d", resp.StatusCode)
	}
}
