"""The GA's generations on CUDA as a graph: one launch per generation (see :mod:`optbench.optimizers.ga`)."""

from __future__ import annotations

import logging
from collections.abc import Callable

import torch

from optbench.kernels import switches

log = logging.getLogger("optbench.optimizers.ga")

GRAPHS_ENV = switches.CUDA_GRAPHS
# Above this many entries per generation the graph's private memory pool (the generation's temporaries,
# a few times the population) is held for nothing much: the kernels outlast their launches. Measured on
# an H100 (pop x D=100, float32): at 1e5 x 100 the graph still took a generation from 1,687 to 1,148 us.
GRAPH_MAX_ENTRIES = 1 << 25
GRAPH_MIN_GENERATIONS = 4  # a capture costs about two eager generations of host time


def graphs_wanted(device: torch.device, entries: int, generations: float) -> bool:
    """Whether a run replays its generations as a CUDA graph (see the module's docstring).

    Args:
        device: the population's device; graphs only on CUDA.
        entries: numbers in one generation's offspring (rows times dimension).
        generations: generations the budget has left (``inf`` under a time budget).
    """
    setting = switches.cuda_graphs()
    if device.type != "cuda" or setting is False:
        return False
    if setting:
        return True
    return entries <= GRAPH_MAX_ENTRIES and generations >= GRAPH_MIN_GENERATIONS


class GenerationGraph:
    """A generation captured as a CUDA graph: its kernels replayed with one launch.

    It reads and writes fixed buffers and draws from its own generator, a copy of the run's
    registered with the graph, so that each replay advances the Philox offset by exactly what
    the eager kernels would have consumed, at the same offsets: the same numbers, the same
    populations.

    Attributes:
        generator: the graph's generator; where the run's random stream continues.
    """

    def __init__(self, graph: torch.cuda.CUDAGraph, generator: torch.Generator, output: torch.Tensor) -> None:
        self._graph, self.generator, self._output = graph, generator, output

    def replay(self) -> torch.Tensor:
        """Run the captured generation; returns its output (a fixed buffer, overwritten by the next replay)."""
        self._graph.replay()
        return self._output


def _capture(step: Callable[[torch.Generator], torch.Tensor], gen: torch.Generator) -> GenerationGraph:
    """Capture ``step(generator)`` (no host sync, fixed shapes and buffers) as a graph drawing where ``gen`` is.

    ``gen`` itself is left as it was (a capture runs nothing): a failed capture can leave the
    generator registered with it unusable, so the graph gets its own. Raises whatever the
    capture raised.
    """
    generator = torch.Generator(device=gen.device)
    generator.set_state(gen.get_state())
    graph = torch.cuda.CUDAGraph()
    try:
        graph.register_generator_state(generator)  # torch >= 2.4: each replay advances its offset
        with torch.cuda.device(gen.device):
            stream = torch.cuda.Stream()  # captures need a stream other than the default
            stream.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(stream):
                # "thread_local": other threads' CUDA calls during the capture are not its errors
                graph.capture_begin(capture_error_mode="thread_local")
                try:
                    output = step(generator)
                finally:
                    graph.capture_end()
            torch.cuda.current_stream().wait_stream(stream)
    except BaseException:
        # an invalidated capture ends without torch's allocator hearing of it, which keeps
        # a reference to the graph: it must outlive the run
        _ABANDONED.append(graph)
        raise
    return GenerationGraph(graph, generator, output)


_ABANDONED: list[torch.cuda.CUDAGraph] = []  # the graphs of this process's failed captures
MAX_FAILED_CAPTURES = 3  # then the process stops trying (the failure is not going away)


def try_capture(step: Callable[[torch.Generator], torch.Tensor], gen: torch.Generator) -> GenerationGraph | None:
    """:func:`_capture`, or ``None`` (and a debug line) where it fails: the run then stays eager."""
    if len(_ABANDONED) >= MAX_FAILED_CAPTURES:
        return None
    try:
        graph = _capture(step, gen)
    except Exception as error:  # any failure to capture means: stay eager
        log.debug("ga: no CUDA graph (%s: %s); generations run eagerly", type(error).__name__, error)
        return None
    log.debug("ga: generations replayed as a CUDA graph on %s", gen.device)
    return graph
