"""Delivery routes as mechanisms: how much of a dose reaches the simulated tissue, and when.

One module per route, registered in :data:`abm.registry.ROUTES`:

* :mod:`.intravenous`: lungs first, then the brain's share of cardiac output, into
  tissue with an open blood-brain barrier, over hours;
* :mod:`.intracarotid`: a first pass through the ipsilateral carotid territory, the
  rest systemic (``intra-arterial`` is the same route);
* :mod:`.intracerebral`: stereotactic (``intracerebral``, ``intralesional``) less a
  reflux loss, and ``local`` (the whole dose);
* :mod:`.intraperitoneal`: vesicles only; absorbed in part into the blood over hours;

with the animal (:mod:`.body`: rat and mouse brain volume and blood-flow share; :mod:`.marrow`:
the bone marrow as a target organ, its volume, and vesicle presets such as
``bone_targeted``), the
factors and time course of a delivery (:mod:`.plan`), exosome dose units
(:mod:`.vesicles`) and the parameter table ``seeds/delivery.csv``
(:mod:`.parameters`).
"""

from .body import SPECIES, Body, body_of
from .plan import ARRIVAL_PARTS, ARRIVAL_SPAN, Delivery, Factor, arrival_schedule
from .route import Route

# isort: off
from .intravenous import Intravenous
from .intracarotid import Intracarotid
from .intracerebral import Intracerebral, Intralesional, Local
from .intraperitoneal import Intraperitoneal
# isort: on
from .marrow import ORGANS, Marrow, VesiclePreset, marrow_of, vesicle_preset, vesicle_presets
from .vesicles import particles_of

__all__ = ["SPECIES", "Body", "body_of", "ARRIVAL_PARTS", "ARRIVAL_SPAN", "Delivery", "Factor",
           "arrival_schedule", "Route", "Intravenous", "Intracarotid", "Intracerebral",
           "Intralesional", "Local", "Intraperitoneal", "ORGANS", "Marrow", "VesiclePreset",
           "marrow_of", "vesicle_preset", "vesicle_presets", "particles_of"]
