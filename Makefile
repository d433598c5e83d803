# jetviz — two commands for a new user:
#   make app    install everything into .venv, then serve the dashboard on localhost only
#               (jetviz serve → panel serve app/ --address 127.0.0.1); ADDRESS=0.0.0.0 exposes it, with a warning
#   make test   install everything into .venv, then run the whole test suite
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PORT   ?= 5006
# the interface the dashboard listens on: loopback unless you ask for another (it runs code for whoever reaches it)
ADDRESS ?= 127.0.0.1

.PHONY: app test install bench clean-cache

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch first, pinned, so pip takes the CPU wheel on disk instead of a multi-GB CUDA build
	$(PY) -m pip install -q torch==2.13.0  # pyproject.toml's torch>=2.2 is then already satisfied
	$(PY) -m pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

app: install
	$(PY) -m jetviz.serve --address $(ADDRESS) --port $(PORT)

test: install
	$(PY) -m pytest tests -n 2 --dist loadfile $(PYTEST_ARGS)

bench: install
	$(PY) benchmarks/generation.py
	$(PY) benchmarks/pixelate.py

clean-cache:
	rm -rf $${JETVIZ_CACHE:-$$HOME/.cache/jetviz}
