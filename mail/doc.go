// Package mail is AURA's outgoing email: messages composed from embedded
// templates (text and HTML) into rows of the durable outbox, the drivers that
// deliver them (smtp through github.com/wneessen/go-mail, log for
// development), and the background Sender that works the outbox off with
// leases, retries and exponential backoff. Handlers only compose and enqueue;
// nothing here runs inside a request.
package mail
