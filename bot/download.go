package bot

import (
	"context"
	"fmt"
	"io"
	"net/http"

	tg "github.com/go-telegram/bot"
)

// MaxDownload bounds a file the bot downloads (an XLSForm workbook is a few
// hundred kilobytes; Telegram's own bot download limit is 20 MB).
const MaxDownload = 5 << 20

// Download fetches a file a person sent (getFile, then the file from the
// configured Bot API URL), refusing files larger than MaxDownload.
func (s *Sender) Download(ctx context.Context, fileID string) ([]byte, error) {
	f, err := s.api.GetFile(ctx, &tg.GetFileParams{FileID: fileID})
	if err != nil {
		return nil, fmt.Errorf("getFile: %w", err)
	}
	if f.FileSize > MaxDownload {
		return nil, fmt.Errorf("file of %d bytes is over the %d limit", f.FileSize, MaxDownload)
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
		return nil, fmt.Errorf("file over the %d byte limit", MaxDownload)
	}
	return data, nil
}
