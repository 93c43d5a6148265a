package storage

import "net/url"

// RedactURL hides the password in a Redis or Postgres URL before it is
// printed or logged.
func RedactURL(v string) string {
	u, err := url.Parse(v)
	if err != nil {
		return "(unparsable)"
	}
	return u.Redacted()
}
