package app

import (
	"context"
	"fmt"

	"aura/mail"
	"aura/repositories"
)

// newMailSender builds the outbox sender of the configured driver; Serve runs
// it beside the HTTP server and stops it before the database closes.
func (a *App) newMailSender() (*mail.Sender, error) {
	c := a.Cfg.Mail
	var driver mail.Driver
	switch c.Driver {
	case "smtp":
		d, err := mail.NewSMTPDriver(mail.SMTPConfig{
			Host: c.SMTP.Host, Port: c.SMTP.Port, Username: c.SMTP.Username, Password: c.SMTP.Password,
			StartTLS: c.SMTP.StartTLS, Timeout: c.SMTP.Timeout,
		})
		if err != nil {
			return nil, err
		}
		driver = d
	case "log":
		driver = mail.LogDriver{Log: a.Log}
	default:
		return nil, fmt.Errorf("mail.driver (AURA_MAIL_DRIVER): unknown %q; accepted: log, smtp", c.Driver)
	}
	db := a.DB
	return mail.NewSender(mail.SenderConfig{
		From: c.From, PollInterval: c.PollInterval, Lease: c.Lease, RetryMaxBackoff: c.RetryMaxBackoff,
		SendTimeout: c.SMTP.Timeout,
	}, driver, func(ctx context.Context) *repositories.Outbox {
		return repositories.New(db.WithContext(ctx)).Outbox
	}, a.Log)
}

// addMailSender registers the outbox sender as a worker of Serve.
func (a *App) addMailSender() error {
	s, err := a.newMailSender()
	if err != nil {
		return err
	}
	s.Clock = a.Clock
	a.mail = s
	a.workers = append(a.workers, s.Run)
	return nil
}
