package bot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	tg "github.com/go-telegram/bot"
)

// MaxDownload bounds a file the bot downloads (an XLSForm workbook is a few
// hundred kilobytes; Telegram's own bot download limit is 20 MB).
const MaxDownload = 5 << 20

// ErrTooLarge is a file over MaxDownload: the person can be told so.
var ErrTooLarge = errors.New("bot: file over the download limit")

// Download fetches a file a person sent (getFile, then the file from the
// configured Bot API URL), refusing files larger than MaxDownload.
func (s *Sender) Download(ctx context.Context, fileID string) ([]byte, error) {
	f, err := s.api.GetFile(ctx, &tg.GetFileParams{FileID: fileID})
	if err != nil {
		return nil, fmt.Errorf("getFile: %w", err)
	}
	if f.FileSize > MaxDownload {
		return nil, fmt.Errorf("file of %d bytes: %w", f.FileSize, ErrTooLarge)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.api.FileDownloadLink(f), nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("file download: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("file download: HTTP %d", resp.StatusCode)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxDownload+1))
	if err != nil {
		return nil, fmt.Errorf("file download: %w", err)
	}
	if len(data) > MaxDownload {
		return nil, fmt.Errorf("file over %d bytes: %w", MaxDownload, ErrTooLarge)
	}
	return data, nil
}
