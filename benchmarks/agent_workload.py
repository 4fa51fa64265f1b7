"""The agent-step workload that benchmarks/agents.py times, shared by both implementations.

One BMSC population on a cubic lattice with four fields (SDF-1α, VEGF, BDNF,
exosomes; parameters from seeds/fields.csv). Every step of ``DT_MIN`` minutes
each cell:

1. **senses** the SDF-1α concentration ``c`` at its voxel and its gradient
   (central differences, one-sided at the lattice faces);
2. **applies the rules** (Hill functions ``H(s; h, n) = s^n / (h^n + s^n)``):

   * speed ``v = V_BASE + (V_MAX - V_BASE) * H(c; V_HALF, V_HILL)``, µm/min;
   * VEGF secretion rate ``S = S_VEGF_BASE + (S_VEGF_MAX - S_VEGF_BASE) * H(c; S_VEGF_HALF, S_VEGF_HILL)``;

3. **moves** by chemotaxis with volume exclusion: random-motility coefficient
   ``D = v^2 * PERSISTENCE_MIN / 3``; drift ``w = CHI * K_D / (K_D + c)^2 * grad c``,
   its length capped at ``v``; the probability of a hop to the face neighbour in
   direction ``±e_i`` is ``D dt / dx^2 + max(0, ±w_i dt / dx)`` and the rest is
   "stay". A hop off the lattice or into a voxel already holding ``CAPACITY``
   cells does not happen;
4. **exchanges** with the fields: VEGF secretion ``S`` toward ``T_VEGF``, BDNF
   secretion ``S_BDNF`` toward ``T_BDNF``, exosome release ``Q_EXOSOME``
   (amount/min) and SDF-1α uptake ``U_SDF``;
5. the **fields advance** by ``DT_MIN`` (abm.fields.FieldSolver, NumPy backend on the CPU).

At the start SDF-1α is a linear ramp along x from 0 to ``SDF_RAMP_MAX`` and
the cells are placed at ``DENSITY`` cells per voxel, uniformly at random.
"""

DT_MIN = 1.0            # min
DX_UM = 20.0            # µm
CAPACITY = 4            # cells per voxel
DENSITY = 0.5           # cells per voxel at the start
FIELDS = ("SDF-1a", "VEGF", "BDNF", "exosome")
SDF_RAMP_MAX = 10.0     # ng/mL at the x+ face at t = 0

V_BASE, V_MAX, V_HALF, V_HILL = 0.2, 0.6, 2.0, 2.0       # µm/min, µm/min, ng/mL, -
PERSISTENCE_MIN = 5.0                                      # min
CHI, K_D = 400.0, 1.0                                      # µm²/min, ng/mL
S_VEGF_BASE, S_VEGF_MAX, S_VEGF_HALF, S_VEGF_HILL = 0.05, 0.2, 0.5, 1.0  # 1/min, 1/min, ng/mL, -
T_VEGF = 1.0            # ng/mL
S_BDNF, T_BDNF = 0.05, 1.0   # 1/min, ng/mL
Q_EXOSOME = 1.0e3       # amount/min (1e9 particles/mL × µm³)
U_SDF = 0.01            # 1/min


def lattice_side(n_agents: int) -> int:
    """Side of the cubic lattice that holds ``n_agents`` at about ``DENSITY`` cells per voxel.

    Rounded up to a length the FFT handles fast (``scipy.fft.next_fast_len``), as
    a user sizing a lattice for the spectral field scheme should: a side of 58
    (2·29) costs 1.8x a side of 60 per transform. The density then ends a little
    below ``DENSITY`` (0.46 instead of 0.5 at 10^5 cells); both implementations
    use the same lattice.
    """
    from scipy.fft import next_fast_len

    return max(4, next_fast_len(round((n_agents / DENSITY) ** (1.0 / 3.0)), real=True))
