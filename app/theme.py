"""Dark theme for a dim scan room (default) and a light one (Settings ▸ Theme).

One QPalette + a small style sheet for the whole application (main window, cine tab, dialogs); the
pyqtgraph plots take their background and axis colours from :func:`plot_colors`.
"""
from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

THEMES = ("dark", "light")

_DARK = dict(window="#1b1d21", base="#14161a", alt="#23262b", text="#e6e6e6", dim="#9aa0a6", button="#2a2d33",
             highlight="#2f6fb3", plot_bg="#101214", plot_fg="#c8c8c8", border="#3a3e45")
_LIGHT = dict(window="#f0f0f0", base="#ffffff", alt="#f5f5f5", text="#1a1a1a", dim="#555555", button="#e4e4e4",
              highlight="#2f6fb3", plot_bg="#ffffff", plot_fg="#303030", border="#b8b8b8")

current = "dark"


def colors(name: str | None = None) -> dict:
    return _LIGHT if (name or current) == "light" else _DARK


def plot_colors() -> tuple[str, str]:
    c = colors()
    return c["plot_bg"], c["plot_fg"]


def palette(name: str) -> QPalette:
    c = colors(name)
    p = QPalette()
    for role, key in ((QPalette.Window, "window"), (QPalette.Base, "base"), (QPalette.AlternateBase, "alt"),
                      (QPalette.WindowText, "text"), (QPalette.Text, "text"), (QPalette.Button, "button"),
                      (QPalette.ButtonText, "text"), (QPalette.ToolTipBase, "alt"), (QPalette.ToolTipText, "text"),
                      (QPalette.Highlight, "highlight"), (QPalette.PlaceholderText, "dim")):
        p.setColor(role, QColor(c[key]))
    p.setColor(QPalette.HighlightedText, QColor("#ffffff"))
    for role in (QPalette.WindowText, QPalette.Text, QPalette.ButtonText):
        p.setColor(QPalette.Disabled, role, QColor(c["dim"]))
    return p


def style_sheet(name: str) -> str:
    c = colors(name)
    return f"""
QToolTip {{ color: {c['text']}; background: {c['alt']}; border: 1px solid {c['border']}; }}
QGroupBox {{ border: 1px solid {c['border']}; border-radius: 4px; margin-top: 8px; padding-top: 4px; }}
QGroupBox::title {{ subcontrol-origin: margin; left: 6px; padding: 0 3px; }}
QTabWidget::pane {{ border: 1px solid {c['border']}; }}
QTabBar::tab {{ background: {c['button']}; color: {c['text']}; padding: 5px 14px; border: 1px solid {c['border']}; }}
QTabBar::tab:selected {{ background: {c['highlight']}; color: white; }}
QStatusBar {{ color: {c['dim']}; }}
QStatusBar QLabel {{ color: {c['dim']}; }}
"""


def apply(name: str = "dark", app: QApplication | None = None) -> str:
    """Apply a theme to the running application; returns the theme's name."""
    global current
    app = app or QApplication.instance()
    name = name if name in THEMES else "dark"
    current = name
    if app is None:
        return name
    app.setStyle("Fusion")  # the platform styles ignore a dark palette in places (Windows)
    app.setPalette(palette(name))
    # no application-wide style sheet: it would route every widget's painting through the (slower)
    # style-sheet style; the palette and Fusion give the whole look (style_sheet() stays for dialogs)
    import pyqtgraph as pg

    bg, fg = plot_colors()
    pg.setConfigOptions(background=bg, foreground=fg)
    return name
