package watchdog

import (
	"net"

	"github.com/coreos/go-systemd/v22/daemon"
)

// Notify sends state (such as "READY=1" or "STATUS=...") to systemd's
// notification socket: Config.NotifySocket, or NOTIFY_SOCKET if that is
// empty. It reports false and no error when there is no socket to send
// to; a failed send is also counted in Stats.NotifyErrors and logged.
// It is safe for concurrent use.
func (w *Watchdog) Notify(state string) (sent bool, err error) {
	if w.socket == "" {
		sent, err = daemon.SdNotify(false, state)
	} else {
		sent, err = sendTo(w.socket, state)
	}
	if err != nil {
		w.logNotifyError(state, err)
	}
	return sent, err
}

// sendTo sends one datagram to the unixgram socket at path.
func sendTo(path, state string) (bool, error) {
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return false, err
	}
	defer c.Close()
	if _, err := c.Write([]byte(state)); err != nil {
		return false, err
	}
	return true, nil
}

// Ready tells systemd that start-up is finished (READY=1; for a
// Type=notify service). Without a notification socket it does nothing.
func (w *Watchdog) Ready() error {
	_, err := w.Notify(daemon.SdNotifyReady)
	return err
}

// Stopping tells systemd that the service is shutting down (STOPPING=1).
// Without a notification socket it does nothing.
func (w *Watchdog) Stopping() error {
	_, err := w.Notify(daemon.SdNotifyStopping)
	return err
}
