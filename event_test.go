package vigil_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/vrrp"
)

// TestEventJSON: events encode with names, not numbers.
func TestEventJSON(t *testing.T) {
	e := vigil.Event{Kind: vigil.EventInstance, Time: time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC), Instance: "VI_1",
		From: vrrp.Backup, To: vrrp.Master, Reason: vrrp.ReasonMasterDown, Priority: 150}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"kind":"instance","time":"2026-12-02T08:00:00Z","instance":"VI_1","from":"BACKUP","to":"MASTER","reason":"master-down","priority":150}`
	if string(b) != want {
		t.Errorf("%s\nwant %s", b, want)
	}
	var back vigil.Event
	if err := json.Unmarshal(b, &back); err != nil || back != e {
		t.Errorf("decoded %+v, %v; want %+v", back, err, e)
	}
	if err := json.Unmarshal([]byte(`{"kind":"nope"}`), &back); err == nil {
		t.Error("an unknown kind decoded")
	}
}
