# jetviz — two commands for a new user:
#   make app    install everything into .venv, then serve the dashboard (panel serve app/)
#   make test   install everything into .venv, then run the whole test suite
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PORT   ?= 5006

.PHONY: app test install bench clean-cache

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch first, pinned, so pip takes the CPU wheel on disk instead of a multi-GB CUDA build
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

app: install
	@echo "jetviz dashboard: http://localhost:$(PORT)/app  (pages: ?page=events ...)"
	$(VENV)/bin/panel serve app/ --port $(PORT) --allow-websocket-origin=localhost:$(PORT)

test: install
	$(PY) -m pytest tests --nbmake notebooks $(PYTEST_ARGS)

bench: install
	$(PY) benchmarks/generation.py
	$(PY) benchmarks/pixelate.py

clean-cache:
	rm -rf $${JETVIZ_CACHE:-$$HOME/.cache/jetviz}
