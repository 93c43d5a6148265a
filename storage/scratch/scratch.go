// Package scratch makes the throwaway stores of the development tools
// (`needsbot loadtest`, `needsbot chaos`): an empty database next to a given
// one, dropped after, and the removal of a run's Redis keys.
package scratch

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// errNotPostgres is returned for an admin URL that is not postgres://.
var errNotPostgres = errors.New("the database URL must be postgres://")

// Database creates an empty database named prefix + random hex on the server
// admin names and returns its DSN and a function that drops it (WITH
// (FORCE): the bot's connections may linger).
func Database(ctx context.Context, admin, prefix string) (string, func() error, error) {
	u, err := url.Parse(admin)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", nil, errNotPostgres
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(cctx, admin)
	if err != nil {
		return "", nil, fmt.Errorf("postgres: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	name := prefix + Hex(8)
	// template0: nobody is ever connected to it, unlike template1.
	if _, err := conn.Exec(cctx, "CREATE DATABASE "+name+" TEMPLATE template0"); err != nil {
		return "", nil, fmt.Errorf("create database: %w", err)
	}
	drop := func() error {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			return fmt.Errorf("drop database %s: %w", name, err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			return fmt.Errorf("drop database %s: %w", name, err)
		}
		return nil
	}
	d := *u
	d.Path = "/" + name
	return d.String(), drop, nil
}

// DeleteKeys deletes every Redis key under prefix, and redis_rate's keys
// for it.
func DeleteKeys(ctx context.Context, rdb *redis.Client, prefix string) error {
	for _, pattern := range []string{prefix + "*", "rate:" + prefix + "*"} {
		iter := rdb.Scan(ctx, 0, pattern, 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if err := iter.Err(); err != nil {
			return fmt.Errorf("redis: scan %s: %w", pattern, err)
		}
		for len(keys) > 0 {
			n := min(len(keys), 500)
			if err := rdb.Unlink(ctx, keys[:n]...).Err(); err != nil {
				return fmt.Errorf("redis: delete keys: %w", err)
			}
			keys = keys[n:]
		}
	}
	return nil
}

// Hex is n random bytes in hex: names, prefixes, secrets of a run.
func Hex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
