package app

import (
	"aura/config"
	"aura/events"
	"aura/services/conversations"
)

// addEvents builds the conversations' rules and the live update hub, whose
// delivery runs as a worker: PostgreSQL LISTEN/NOTIFY across instances, in
// process on SQLite.
func (a *App) addEvents() {
	a.Conversations = &conversations.Service{Clock: a.Clock, Settings: conversations.Settings{
		PerMinute: a.Cfg.Limits.Messages.PerMinute, EmailAfter: a.Cfg.Messages.EmailAfter, FrontendURL: a.Cfg.Mail.FrontendURL}}
	pgURL := ""
	if a.Cfg.Database.DSN.Engine == config.EnginePostgres {
		pgURL = a.Cfg.Database.DSN.URL
	}
	a.Events = events.NewHub(a.DB, pgURL, a.Log)
	a.workers = append(a.workers, a.Events.Run)
}
