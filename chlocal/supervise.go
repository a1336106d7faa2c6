package chlocal

import (
	"context"
	"errors"
	"time"
)

// supervise restarts the child on the same ports whenever it exits on its
// own, with exponential backoff, until Stop. It owns s.current between
// restarts; Stop terminates whatever child is current once supervise has
// returned.
func (s *Server) supervise(c *child) {
	defer close(s.supervisorDone)
	failures := 0
	for {
		select {
		case <-s.stopping:
			return
		case <-c.exited:
		}
		uptime := time.Since(c.started)
		if uptime >= stableUptime {
			failures = 0
		}
		s.log.Warn().Int("pid", c.proc.Pid).Str("exit", describeExit(c.waitErr)).
			Dur("uptime", uptime).Str("log_file", s.cfg.LogFile).
			Msg("clickhouse exited unexpectedly")

		for {
			delay := s.backoff(failures)
			failures++
			s.log.Info().Int("attempt", failures).Dur("delay", delay).Msg("restarting clickhouse")
			if !s.pause(delay) {
				return
			}
			next, err := s.restart()
			if errors.Is(err, errStopped) {
				return
			}
			if err != nil {
				s.log.Error().Err(err).Int("attempt", failures).Msg("restarting clickhouse")
				continue
			}
			c = next
			s.mu.Lock()
			s.restarts++
			s.mu.Unlock()
			s.log.Info().Int("pid", c.proc.Pid).Int("attempt", failures).Msg("clickhouse restarted")
			break
		}
	}
}

// restart spawns a child, makes it current and waits for it to be ready.
// A child that does not get ready is killed, except when Stop interrupted
// the wait: then Stop terminates it.
func (s *Server) restart() (*child, error) {
	c, err := s.spawn()
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.current = c
	s.mu.Unlock()
	if err := s.waitReady(context.Background(), c); err != nil {
		if !errors.Is(err, errStopped) {
			s.kill(c)
		}
		return nil, err
	}
	return c, nil
}

// backoff is the delay before restart attempt number failures+1.
func (s *Server) backoff(failures int) time.Duration {
	delay := s.cfg.RestartBackoff
	for range failures {
		if delay >= s.cfg.MaxRestartBackoff/2 {
			return s.cfg.MaxRestartBackoff
		}
		delay *= 2
	}
	return delay
}

// pause waits for d and reports false if Stop was called meanwhile.
func (s *Server) pause(d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-s.stopping:
		return false
	case <-timer.C:
		return true
	}
}
