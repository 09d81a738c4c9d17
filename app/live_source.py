"""The live view's source states: NO SOURCE (a file that cannot be opened), DEVICE NOT FOUND (a device
that cannot be opened at all), SIGNAL LOST (frames stopped from a working source) and back; the
capture watchdog's health (NO NEW FRAMES / NO SIGNAL, engine.live_health) and SCORING FAILS ON EVERY
FRAME (a model that loads but fails on every frame). A mixin of
:class:`app.live.LiveView` (it uses the view's banner, items, gauge and panel)."""
from __future__ import annotations


class SourceStates:
    def clear_view(self, why: str) -> None:
        """A failed source: no stale frame, heatmap or score on screen; ``why`` says what happened."""
        self.image_item.clear()
        self.heat_item.clear()
        self.heat_item.setVisible(False)
        self.roi_item.setVisible(False)
        self.last_frame = self.last_result = None
        self.gauge.target = self.gauge.value = None
        self.gauge.stale = True
        self.gauge.update()
        self.panel.clear("no image")
        self._trend.clear()
        self.trend_curve.setData([], [])
        self.banner.set_part("synthetic", None)
        self.overlay_text.setText(why)
        self.vb.setRange(xRange=(0, 800), yRange=(0, 600), padding=0)
        self.overlay_text.setPos(400, 300)
        self.overlay_text.setVisible(True)

    def _on_signal_lost(self, why: str):
        self.signal_lost = True
        self.source_state = "lost"
        self.banner.set_part("signal", "SIGNAL LOST — frames stopped; check the scanner's video cable; retrying every second")
        self.overlay_text.setText("SIGNAL LOST — retrying…")
        self._place_overlay()
        self.overlay_text.setVisible(True)
        self.gauge.stale = True
        self.gauge.update()

    def _on_health(self, state: str, message: str):
        """Stale frames ("no new frames") or a card's no-signal frames: grey the gauge and say so."""
        bad = state != "ok"
        self.banner.set_part("health", message.upper() if bad else None)
        if not self.signal_lost:
            self.gauge.stale = bad
            self.gauge.update()

    def _on_device_missing(self, why: str):
        self.source_state = "missing"
        self.banner.set_part("signal", f"DEVICE NOT FOUND — no capture device answers at {self.spec} ({why}); "
                                       "plug it in or choose another in File ▸ Live source; retrying every second")
        self.clear_view(f"DEVICE NOT FOUND: {self.spec}")

    def _on_signal_regained(self):
        self.signal_lost = False
        self.source_state = "live"
        self.banner.set_part("signal", None)
        self.overlay_text.setVisible(False)
        self.roi_item.setVisible(True)
        self.heat_item.setVisible(self.heat_check.isChecked())
        self.gauge.stale = False
        self.gauge.update()
        self.message.emit("signal back")

    def _on_error(self, text: str):
        first = text.splitlines()[0] if text else "error"
        self.message.emit(first)
        self.last_error = text
        if text.startswith("scoring failed") and self.pipeline is not None and self.pipeline.scoring.scored == 0:
            # a model that loads but fails on every frame: say so instead of an empty gauge
            self.banner.set_part("scoring", f"SCORING FAILS ON EVERY FRAME — {first}")
        if self.pipeline is not None and self.pipeline.capture.captured == 0 and text.startswith("cannot open"):
            self.source_state = "failed"
            self.banner.set_part("signal", f"NO SOURCE — {first} (choose one in File ▸ Live source)")
            self.clear_view("NO SOURCE")

    def _on_ended(self):
        if self.source_state != "failed":
            self.source_state = "ended"
        self.message.emit("source ended")
