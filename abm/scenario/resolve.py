"""The second pass over a validated scenario.

Cross references (fields, cell types, tissue labels, states, rule signals and behaviours,
readouts), units that depend on context, and region geometry, into the plain objects of :mod:`.objects`. Each problem is recorded at
its key, so that it is reported at its line. The resolver is also the ``ctx`` that event
kinds (:meth:`abm.events.EventKind.resolve`) and region shapes receive.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from .. import units as U
from ..errors import ModelInputError
from ..regions import AXES, LabelRegion, MaskRegion, Region, shape_named
from ..registry import CELL_TYPES, PROCESSES
from .arms import arm_events, arms_of, claims
from .celltypes import resolve_cell_type, type_class
from .checks import check_clock, check_event, check_outputs, minutes
from .objects import (
    Domain,
    Event,
    FieldSpec,
    Outputs,
    PopulationSpec,
    ProcessSpec,
    Scenario,
    TissueLabel,
    paint,
)
from .problems import Bad, Problems, choices, did_you_mean, key_tuple
from .schema import CellTypeSchema, FieldSchema

__all__ = ["Resolver", "PAINT_LIMIT"]

#: Largest lattice (voxels) on which the loader paints labels to count cells and room; above it
#: those checks are left to placement time (the runner's memory check refuses such lattices first).
PAINT_LIMIT = 200_000_000


class Resolver:
    """Resolve ``raw`` (the validated schema instance) into a :class:`Scenario`.

    Attributes offered to event kinds and region shapes: ``domain``, ``tissue_names``,
    ``field_units``, ``state_units``, ``types`` (name -> class), ``base_dir``, ``shape``,
    ``dx``; methods :meth:`region`, :meth:`field_unit`, :meth:`cell_type`,
    :meth:`check_state_values`, :meth:`sub`.
    """

    def __init__(self, raw, problems: Problems, text, name, base_dir, overrides, plugins=(),
                 stored_masks=None, arm=None):
        self.raw, self.p, self.text, self.name = raw, problems, text, name
        self.arm = arm               # the arm chosen (None: the scenario declares no arms)
        self.base_dir, self.overrides, self.plugins = Path(base_dir), overrides, tuple(plugins)
        self.field_units: dict[str, str] = {}
        self.state_units: dict[str, str] = {}
        self.types: dict[str, type] = {}
        self.labels0 = None
        self.stored_masks = stored_masks     # from a run file: masks are never read from disk
        self.mask_arrays: dict = {}
        self.warnings: list[str] = []
        self.event_time = 0.0        # the time (min) of the event being resolved
        self.event_index = 0         # its index in the file
        self._painting: list = []    # (time, index, InjurySpec) of the injuries resolved so far
        self.duration_overridden = any(o.partition("=")[0].strip() == "domain.duration"
                                       for o in overrides)

    # ------------------------------------------------------------ helpers
    def conv(self, loc, value, kind, **bounds):
        """``value`` in ``kind``'s internal unit (raises Bad)."""
        try:
            return U.to_internal(value, kind, **bounds)
        except U.UnitProblem as exc:
            raise Bad(str(exc)) from None

    def attempt(self, loc, fn, *args, **kw):
        """Run ``fn``; on a problem record it at ``loc`` (+ its key) and return None."""
        try:
            return fn(*args, **kw)
        except Bad as exc:
            self.p.add(tuple(loc) + key_tuple(exc.key), str(exc))
        except ModelInputError as exc:
            self.p.add(tuple(loc), str(exc))
        return None

    def sub(self, prefix, fn, *args, **kw):
        """Call ``fn``; prefix the key of a problem it raises with ``prefix``."""
        try:
            return fn(*args, **kw)
        except Bad as exc:
            raise Bad(str(exc), key=tuple(prefix) + key_tuple(exc.key)) from None

    @property
    def domain(self) -> Domain:
        """The resolved :class:`Domain`."""
        return self.dom

    @property
    def shape(self):
        """Lattice shape, voxels."""
        return self.dom.shape

    @property
    def dx(self) -> float:
        """Voxel edge, µm."""
        return self.dom.dx

    # ------------------------------------------------------------ the whole
    def resolve(self) -> Scenario:
        """The whole scenario (each section resolved; the first problem by line raised)."""
        r = self.raw
        dom = self.attempt(("domain",), self.resolve_domain)
        if dom is None:
            self.p.raise_first()
        self.dom = dom
        tissue = self.resolve_tissue()
        self.tissue_names = [t.name for t in tissue]
        fields = self.resolve_fields()
        processes = self.resolve_processes()
        for n, spec in r.cell_types.items():
            cls = self.attempt(("cell_types", n), type_class, self, n, spec or CellTypeSchema())
            if cls is not None:
                self.types[n] = cls
        self.p.raise_first()  # later sections need the names above
        self.tissue = tissue
        if any(t.initially and t.region is not None for t in tissue[1:]) \
                and math.prod(dom.shape) <= PAINT_LIMIT:
            self.labels0 = self.attempt(("tissue",), paint, dom, tissue)
        cell_types = [ct for n, spec in r.cell_types.items()
                      if (ct := self.attempt(("cell_types", n), resolve_cell_type, self, n,
                                             spec or CellTypeSchema())) is not None]
        pops = [pp for i, pop in enumerate(r.populations)
                if (pp := self.attempt(("populations", i), self.population, pop)) is not None]
        # in time order (file order among equal times, as the runner fires them), so that an
        # event sees the injuries before it (labels_at); a dose expands into its placements
        kept = {id(e) for e in arm_events(r, self.arm, self.p)}
        events = []
        for i in sorted(range(len(r.events)), key=lambda k: r.events[k].at):
            if id(r.events[i]) not in kept:
                continue
            evs = self.attempt(("events", i), self.events_of, r.events[i], checked=True, index=i)
            events.extend(evs or ())
        events.sort(key=lambda e: e.time)
        outputs = self.attempt(("outputs",), self.outputs, fields)
        check_outputs(outputs, dom, self.warnings)
        reported = claims(r, list(r.outputs.readouts or ()), self.p)
        self.p.raise_first()
        return Scenario(name=r.name, description=r.description, text=self.text,
                        overrides=tuple(self.overrides), source=self.name, base_dir=self.base_dir,
                        domain=dom, tissue=tissue, fields=fields, cell_types=cell_types,
                        populations=pops, events=events, outputs=outputs, processes=processes,
                        plugins=self.plugins, warnings=tuple(self.warnings),
                        masks=dict(self.mask_arrays), arms=arms_of(r), arm=self.arm,
                        reported=reported)

    # ------------------------------------------------------------ domain, regions
    def resolve_domain(self) -> Domain:
        """The lattice and the clock (shape from extent and voxel, number of steps)."""
        d = self.raw.domain
        shape = []
        for a, e in enumerate(d.extent):
            n = int(round(e / d.voxel))
            if n < 3:
                raise Bad(f"the domain must be at least 3 voxels along {AXES[a]}: extent "
                          f"{e:g} µm / voxel {d.voxel:g} µm gives {n}; make the voxel smaller or "
                          f"the extent larger", key="extent")
            shape.append(n)
        n_steps = check_clock(d.duration, d.dt, self.warnings)
        return Domain(tuple(shape), d.voxel, tuple(n * d.voxel for n in shape), d.dt, d.duration,
                      n_steps, d.seed, d.capacity)

    def region(self, ref, *, need_voxels=True) -> Region:
        """Resolve a region reference.

        ``ref`` is a label name or a validated shape mapping; a problem is raised as
        Bad with the key inside ``ref`` when possible.
        """
        if isinstance(ref, str):
            names = ["all"] + list(self.tissue_names)
            if ref not in names:
                raise Bad(f"unknown region '{ref}'{did_you_mean(ref, names)}: a region is a "
                          f"tissue label ({choices(self.tissue_names)}), 'all', or a mapping "
                          f"with a 'shape' key")
            return LabelRegion(ref)
        reg = shape_named(ref.shape).build(ref, self)
        msg = reg.outside_domain(self.dom.extent)
        if msg:
            raise Bad(msg)
        if need_voxels and reg.voxel_count(self.dom.shape, self.dom.dx) == 0:
            raise Bad(f"region {reg.describe()} contains no voxel centre; make it larger (voxel "
                      f"{self.dom.dx:g} µm)")
        return reg

    # ------------------------------------------------------------ tissue, fields, processes
    def resolve_tissue(self) -> list:
        """Tissue labels in order (label 0 is the default tissue)."""
        t = self.raw.tissue
        cap0 = self.raw.domain.capacity
        d = t.default
        out = [TissueLabel(d.name, d.diffusion_scale, d.decay_scale, d.permeable,
                           cap0 if d.capacity is None else d.capacity, None, True)]
        names = [d.name]
        for i, lab in enumerate(t.labels):
            loc = ("tissue", "labels", i)
            if lab.name == "all":
                self.p.add(loc + ("name",), "'all' is reserved (every voxel); choose another name")
            elif lab.name in names:
                self.p.add(loc + ("name",), f"tissue label '{lab.name}' is declared twice")
            names.append(lab.name)
            self.tissue_names = names[:-1]  # a label's region may name earlier labels only
            reg = None
            if lab.region is None:
                if lab.initially:
                    self.p.add(loc, f"label '{lab.name}' is painted at t = 0: give its region, or "
                                    f"set initially: false if an injury paints it later")
            else:
                reg = self.attempt(loc + ("region",), self.region, lab.region)
            if len(names) > 255:
                self.p.add(loc, "at most 255 tissue labels are supported")
            out.append(TissueLabel(lab.name, lab.diffusion_scale, lab.decay_scale, lab.permeable,
                                   cap0 if lab.capacity is None else lab.capacity, reg,
                                   lab.initially))
        self.tissue_names = names
        return out

    def resolve_fields(self) -> list:
        """The fields, with seeds/fields.csv defaults for what is not given."""
        from ..seeds import load_field_defaults  # noqa: PLC0415

        defaults = load_field_defaults()
        out = []
        for name, f in self.raw.fields.items():
            spec = self.attempt(("fields", name), self.field, name, f or FieldSchema(),
                                defaults.get(name))
            if spec is not None:
                out.append(spec)
                self.field_units[name] = spec.unit
        return out

    def field(self, name, f: FieldSchema, dflt) -> FieldSpec:
        """One field in internal units."""
        if not name or any(ch.isspace() for ch in name) or "." in name:
            raise Bad(f"field name '{name}' must not be empty or contain spaces or '.'")
        known = "" if dflt is None else " or use a name from seeds/fields.csv"
        if f.unit is not None:
            try:
                unit = U.parse_unit(f.unit)
            except U.UnitProblem as exc:
                raise Bad(str(exc), key="unit") from None
        elif dflt is not None:
            unit = dflt.unit
        else:
            raise Bad(f"field '{name}' is not in seeds/fields.csv: give its unit (e.g. "
                      f"'unit: ng/mL'){known}", key=None)
        if f.diffusion is not None:
            diffusion = f.diffusion
        elif dflt is not None:
            diffusion = dflt.diffusion
        else:
            raise Bad(f"field '{name}' is not in seeds/fields.csv: give its diffusion (e.g. "
                      f"'diffusion: 70 um^2/s')")
        if f.decay is not None:
            decay = f.decay
        elif f.half_life is not None:
            decay = math.log(2) / f.half_life
        else:
            decay = dflt.decay if dflt is not None else 0.0
        ck = U.concentration_kind(name, unit)
        initial = 0.0
        if f.initial is not None:
            try:
                initial = U.to_internal(f.initial, ck)
            except U.UnitProblem as exc:
                raise Bad(str(exc), key="initial") from None
        faces = {}
        for face, v in f.boundary.items():
            try:
                faces[face] = U.to_internal(v, ck)
            except U.UnitProblem as exc:
                raise Bad(str(exc), key="boundary") from None
        return FieldSpec(name, unit, float(diffusion), float(decay), initial, faces)

    def resolve_processes(self) -> list:
        """The tissue processes, with their states' units recorded."""
        out = []
        for name, params in self.raw.processes.items():
            spec = self.attempt(("processes", name), self.process, name, params or {})
            if spec is None:
                continue
            for s, (_, unit) in spec.cls.states.items():
                if s in self.state_units:
                    self.p.add(("processes", name), f"tissue state '{s}' of {name} is also a "
                                                    f"state of another process; keep one")
                self.state_units[s] = str(unit)
            out.append(spec)
        return out

    def process(self, name, params: dict) -> ProcessSpec:
        """One tissue process with its parameters converted by their kinds."""
        names = PROCESSES.names()
        if name not in names:
            raise Bad(f"unknown tissue process '{name}'{did_you_mean(name, names)}; registered "
                      f"processes: {choices(names)} (a plugin module registers more)")
        cls = PROCESSES.get(name)
        values = {}
        for k, v in params.items():
            if k not in cls.parameters:
                self.p.add(("processes", name, k),
                           f"{name} has no parameter '{k}'{did_you_mean(k, cls.parameters)}; "
                           f"parameters: {choices(cls.parameters)}")
                continue
            val = self.attempt(("processes", name, k), self.conv, None, v, cls.parameters[k][1])
            if val is not None:
                values[k] = float(val)
        self._check_process(name, cls, values)
        return ProcessSpec(name, cls, values)

    def _check_process(self, name, cls, values: dict) -> None:
        """The process's own checks of its parameters (ranges, allowed values), at load time.

        The class checks them when it is made (``TissueProcess.__init__``); making one here
        moves that to ``abm validate``. A problem is recorded at the first given parameter
        the message names (else at the process), without the class's ``<name>:`` prefix.
        """
        try:
            cls(**values)
        except ModelInputError as exc:
            msg = str(exc)
            for prefix in (f"{name}: ", f"tissue process {name!r}: "):
                if msg.startswith(prefix):
                    msg = msg[len(prefix):]
                    break
            named = [k for k in values if re.search(rf"(?<![\w:]){re.escape(k)}(?!\w)", msg)]
            self.p.add(("processes", name) + tuple(named[:1]), msg)

    # ------------------------------------------------------------ cells
    def cell_type(self, name, key="cell_type"):
        """The class of a cell type the scenario declares (raises Bad)."""
        if name not in self.types:
            extra = "" if name not in CELL_TYPES.names() else \
                "; add it under cell_types to include it in the model"
            raise Bad(f"unknown cell type '{name}'{did_you_mean(name, self.types)}; the "
                      f"scenario declares {choices(self.types)}{extra}", key=key)
        return self.types[name]

    def check_state_values(self, cls, state, values) -> None:
        """Raise Bad unless ``state`` is a state of ``cls`` and ``values`` its variables."""
        if state is not None and state not in cls.states:
            raise Bad(f"{cls.cell_type} has no state '{state}'{did_you_mean(state, cls.states)}; "
                      f"states: {choices(cls.states)}", key="state")
        for k in values:
            if k not in cls.variables:
                raise Bad(f"{cls.cell_type} has no variable '{k}'"
                          f"{did_you_mean(k, cls.variables)}; variables: "
                          f"{choices(cls.variables)}", key="values")

    def field_unit(self, name, key="field") -> str:
        """The unit of a declared field (raises Bad)."""
        if name not in self.field_units:
            raise Bad(f"unknown field '{name}'{did_you_mean(name, self.field_units)}; declared "
                      f"fields: {choices(self.field_units)}", key=key)
        return self.field_units[name]

    def _room(self, mask) -> int:
        caps = np.array([t.capacity for t in self.tissue], dtype=np.int64)
        if self.labels0 is None:
            return int(caps[0] * np.count_nonzero(mask))
        return int(caps[self.labels0][mask].sum())

    def _mask(self, region: Region) -> np.ndarray:
        labels = self.labels0 if self.labels0 is not None else \
            np.zeros(self.dom.shape, dtype=np.uint8)
        return region.mask(self.dom.shape, self.dom.dx, labels, self.tissue_names)

    def population(self, pop) -> PopulationSpec:
        """One initial population, its cell count checked against the room at t = 0."""
        cls = self.cell_type(pop.cell_type)
        self.check_state_values(cls, pop.state, pop.values)
        region = self.sub(("region",), self.region, pop.region)
        painted = any(t.initially and t.region is not None for t in self.tissue[1:])
        cap0 = self.tissue[0].capacity
        if painted and self.labels0 is None and isinstance(region, LabelRegion) \
                and region.name == "all":
            nvox, room = math.prod(self.dom.shape), None
        elif not painted and isinstance(region, LabelRegion):
            # only label 0 (everywhere) exists at t = 0
            nvox = math.prod(self.dom.shape) if region.name in ("all", self.tissue[0].name) else 0
            room = cap0 * nvox
        elif not painted and not isinstance(region, MaskRegion):
            nvox = region.voxel_count(self.dom.shape, self.dom.dx)
            room = cap0 * nvox
        elif self.labels0 is None and painted:
            nvox = room = None  # lattice too large to paint here; counted at placement
        else:
            mask = self._mask(region)
            nvox = int(np.count_nonzero(mask))
            room = self._room(mask)
        if nvox == 0:
            raise Bad(f"region {region.describe()} has no voxels at t = 0", key="region")
        if pop.count is not None:
            if abs(pop.count - round(pop.count)) > 1e-9 * max(1.0, pop.count):
                raise Bad(f"count must be a whole number of cells, got {pop.count:g}", key="count")
            n = count = int(round(pop.count))
        else:
            count = None
            n = None if nvox is None else int(round(pop.density * nvox * self.dom.voxel_volume))
        if room is not None and n > room:
            raise Bad(f"{n} {cls.cell_type} cells do not fit in {region.describe()}: it has room "
                      f"for {room} (voxels × capacity); lower the number or raise the capacity",
                      key="count" if count is not None else "density")
        return PopulationSpec(cls.cell_type, region, count, pop.density, pop.state,
                              dict(pop.values), n)

    # ------------------------------------------------------------ events, outputs
    def event(self, e, checked=False, index=0) -> Event:
        """One event, its first dose only (see :meth:`events_of` for the whole timeline)."""
        return self.events_of(e, checked=checked, index=index)[0]

    def dose_times(self, e) -> list:
        """Times (min) of the doses of event ``e``: ``at``, then every ``repeat.every``.

        Raises
        ------
        Bad
            A dose after the end of the run (at key ``repeat``), unless the end was set by
            ``--until``/``--set`` (then a warning: a short trial of a long scenario).
        """
        rep = e.repeat
        if rep is None:
            return [float(e.at)]
        if rep.times is not None:
            times = [e.at + k * rep.every for k in range(rep.times)]
        else:
            if rep.until < e.at:
                raise Bad(f"repeat until {minutes(rep.until)} comes before the first dose at "
                          f"{minutes(e.at)}", key=("repeat", "until"))
            n = int(math.floor((rep.until - e.at) / rep.every + 1e-9)) + 1
            times = [e.at + k * rep.every for k in range(n)]
        d = self.dom
        end = d.n_steps * d.dt
        late = [t for t in times if math.ceil(t / d.dt - 1e-9) >= d.n_steps]
        if late and len(late) < len(times):
            msg = (f"{len(late)} of the {len(times)} doses ({', '.join(minutes(t) for t in late)})"
                   f" come at or after the end of the run ({minutes(end)})")
            if self.duration_overridden:
                self.warnings.append(msg + " and will never happen (the end set by "
                                     "--until/--set)")
            else:
                raise Bad(msg + "; extend domain.duration, lower repeat.times or set "
                          "repeat.until before the end", key="repeat")
        return times

    def events_of(self, e, checked=False, index=0) -> list:
        """The timeline entries of event ``e``: each dose (``repeat``), each in its placements.

        Each dose is resolved by its registered kind at its own time (``event_time``); a
        kind with a ``timeline(spec)`` method splits a dose into ``(delay, spec)``
        placements (cells arriving over time), each its own :class:`Event`.
        ``checked``: each dose can happen and its cells fit.
        """
        from ..events import event_kind  # noqa: PLC0415

        name = next(k for k in type(e).kind_names if getattr(e, k) is not None)
        kind = event_kind(name)
        out = []
        times = self.dose_times(e)
        for t in times:
            self.event_time, self.event_index = float(t), int(index)
            # a later dose after the end is already in dose_times' one warning for the event
            late_repeat = t != times[0] and math.ceil(t / self.dom.dt - 1e-9) >= self.dom.n_steps
            spec = self.sub((name,), kind.resolve, getattr(e, name), self)
            if name == "injury":
                self._painting.append((float(t), int(index), spec))
            parts = kind.timeline(spec) if hasattr(kind, "timeline") else [(0.0, spec)]
            if checked:
                whole = Event(float(t), name, spec)
                try:
                    check_event(self, whole, kind, [] if late_repeat else self.warnings)
                except Bad as exc:
                    raise Bad(str(exc), key=exc.key if exc.key == "at" else (name,)) from None
                self._check_arrivals(t, name, parts, kind)
            out.extend(Event(float(t) + float(dly), name, sp) for dly, sp in parts)
        return out

    def _check_arrivals(self, t, name, parts, kind) -> None:
        """Warn once if placements of a dose at ``t`` (min) come after the end of the run."""
        if len(parts) < 2:
            return
        d = self.dom
        late = [(dly, sp) for dly, sp in parts
                if math.ceil((t + dly) / d.dt - 1e-9) >= d.n_steps]
        if late and len(late) < len(parts):
            n = sum(int(kind.expected_cells(sp)) for _, sp in late)
            self.warnings.append(
                f"{len(late)} of the {len(parts)} placements of the {name} at {minutes(t)} "
                f"({n} cells, from {minutes(t + late[0][0])} on) come after the run ends "
                f"({minutes(d.n_steps * d.dt)}) and will never happen")

    def labels_at(self, time: float, index: int = 0) -> np.ndarray:
        """Tissue labels (uint8, lattice shape) as they will be when an event at ``time`` fires.

        The labels painted at t = 0 and by each injury resolved so far that fires before it
        (an earlier time, or the same time and earlier in the file).
        """
        lab = self.labels0.copy() if self.labels0 is not None else \
            np.zeros(self.dom.shape, dtype=np.uint8)
        if self.labels0 is None and any(t.initially and t.region is not None
                                        for t in self.tissue[1:]):
            raise Bad("the lattice is too large to paint its tissue here; give "
                      "delivered_fraction for this event")
        for t, i, inj in sorted(self._painting, key=lambda x: (x[0], x[1])):
            if t < time or (t == time and i < index):
                m = inj.region.mask(self.dom.shape, self.dom.dx, lab, self.tissue_names)
                lab[m] = self.tissue_names.index(inj.label)
        return lab

    def outputs(self, fields) -> Outputs:
        """What is recorded and how often; readouts parsed by their kinds."""
        from ..readouts import ParseContext, parse  # noqa: PLC0415

        o, d = self.raw.outputs, self.dom
        snap = o.snapshot_every if o.snapshot_every is not None else d.duration / 10
        ckpt = o.checkpoint_every if o.checkpoint_every is not None else snap
        rd = o.readout_every if o.readout_every is not None else \
            d.dt * max(1, round(snap / d.dt / 10))
        fnames = [f.name for f in fields]
        out_fields = fnames if o.fields is None else list(o.fields)
        for k, f in enumerate(out_fields):
            if f not in self.field_units:
                self.p.add(("outputs", "fields", k), f"unknown field '{f}'"
                           f"{did_you_mean(f, fnames)}; declared fields: {choices(fnames)}")
        agents = list(self.types) if o.agents is None else list(o.agents)
        for k, a in enumerate(agents):
            if a not in self.types:
                self.p.add(("outputs", "agents", k), f"unknown cell type '{a}'"
                           f"{did_you_mean(a, self.types)}; the scenario declares "
                           f"{choices(self.types)}")
        texts = [f"count {t}" for t in self.types] if o.readouts is None else list(o.readouts)
        ctx = ParseContext({n: tuple(c.states) for n, c in self.types.items()},
                           dict(self.field_units), list(self.tissue_names), dict(self.state_units),
                           {n: tuple(c.variables) for n, c in self.types.items()},
                           tuple(getattr(self, "declared_markers", ())))
        readouts = []
        for k, t in enumerate(texts):
            r = self.attempt(("outputs", "readouts", k), parse, t, ctx)
            if r is not None:
                if any(x.text == r.text for x in readouts):
                    self.p.add(("outputs", "readouts", k), f"readout '{t}' is listed twice")
                readouts.append(r)
        return Outputs(snap, ckpt, rd, out_fields, agents, readouts)
