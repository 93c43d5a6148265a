package redisstore

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// OnWait makes o tell f each wait its Run chooses (after a failed drain:
// failed), so that a test checks the backoff asked for, not timers.
func OnWait(o *Outbox, f func(wait time.Duration, failed bool)) { o.onWait = f }

// ForgetReadStates makes s forget the state its reads found (the seen
// record's written time stays): its next saves go to saveScript, not
// saveCommonScript, until the chat is read again.
func ForgetReadStates(s *Store) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c, r := range s.reads {
		r.v, r.mirror = 0, ""
		s.reads[c] = r
	}
}

// CommonScriptHash is saveCommonScript's SHA.
func CommonScriptHash() string { return saveCommonScript.Hash() }

// WarmVsRead returns what s keeps of the chat for its next Load (warm.go;
// ok false when it keeps nothing a Load may take) and what a read of
// Redis finds, each as hmgetState's nine fields then the seen record's
// header, length and highest update id listed, without changing either.
func WarmVsRead(s *Store, ctx context.Context, chat int64) (warm, read []string, ok bool, err error) {
	s.mu.Lock()
	if w := s.warm[chat]; w != nil && w.ready {
		warm = append(w.vals[:len(w.vals):len(w.vals)], w.head, strconv.Itoa(w.recLen), strconv.FormatInt(w.maxID, 10))
		ok = true
	}
	s.mu.Unlock()
	vals, err := s.rdb.HMGet(ctx, s.stateKey(chat), "v", "b", "m", "t", "h", "o", "a", "e", "l").Result()
	if err != nil {
		return nil, nil, false, err
	}
	for _, v := range vals {
		str, _ := v.(string)
		read = append(read, str)
	}
	rec, err := s.rdb.Get(ctx, s.seenKey(chat)).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, nil, false, err
	}
	head, maxID, sok := seenSummary(rec)
	if !sok {
		return nil, nil, false, errors.New("unreadable seen record")
	}
	return warm, append(read, head, strconv.Itoa(len(rec)), strconv.FormatInt(maxID, 10)), ok, nil
}
