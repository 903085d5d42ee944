"""Live controls: widgets in JupyterLab, one plain call in batch execution."""

import ipywidgets as widgets

from infoflow_core.plots import in_batch, live_controls


def test_batch_runs_the_function_once_with_the_control_values(monkeypatch):
    monkeypatch.setenv("INFOFLOW_BATCH", "1")
    calls = []
    live_controls(lambda beta, n: calls.append((beta, n)),
                  beta=widgets.FloatLogSlider(value=0.02, base=10, min=-3, max=0), n=7)
    assert in_batch() and calls == [(0.02, 7)]


def test_batch_manual_controls_do_not_run(monkeypatch, capsys):
    monkeypatch.setenv("INFOFLOW_BATCH", "1")
    calls = []
    live_controls(lambda x: calls.append(x), manual=True, x=widgets.IntSlider(value=3))
    assert calls == [] and "JupyterLab" in capsys.readouterr().out


def test_interactive_builds_widgets(monkeypatch):
    monkeypatch.delenv("INFOFLOW_BATCH", raising=False)
    calls = []
    w = live_controls(lambda x: calls.append(x), x=widgets.IntSlider(value=3, min=0, max=5))
    assert not in_batch()
    assert calls == [3]  # interact runs once at display, then on every change
    w.widget.children[0].value = 4
    assert calls[-1] == 4


def test_interactive_labels_are_not_cut_off(monkeypatch):
    monkeypatch.delenv("INFOFLOW_BATCH", raising=False)
    w = live_controls(lambda log10_epochs, lr: None,
                      log10_epochs=widgets.IntSlider(value=3, min=0, max=5),
                      lr=widgets.Dropdown(options=[0.1, 0.01], description="learning rate"))
    slider, dropdown = w.widget.children[:2]
    assert slider.description == "log10 epochs" and dropdown.description == "learning rate"
    assert slider.style.description_width == dropdown.style.description_width == "initial"
