# Type stubs of the native module (python/src/lib.rs). The public API is
# densing/__init__.py, whose own annotations (with py.typed) serve editors.
import os
from typing import Dict, List, Optional, Tuple, Union

__version__: str

class DensingError(Exception): ...

class FieldError(DensingError):
    file: str
    line: int
    field: str
    reason: str

class FileError(DensingError):
    file: str
    reason: str

class FitError(DensingError): ...
class OptionError(DensingError): ...
class InternalError(DensingError): ...

# A path, or (name, csv_text) for a DataFrame written out by the Python side.
_Table = Union[str, os.PathLike[str], Tuple[str, str]]

class _Registry:
    @staticmethod
    def bundled() -> _Registry: ...
    @staticmethod
    def load(source: _Table) -> _Registry: ...
    def layer(self, name: str, text: str) -> _Registry: ...
    def wide_csv(self) -> str: ...
    @property
    def name(self) -> str: ...
    def __len__(self) -> int: ...
    def families(self) -> List[str]: ...

class _Analysis:
    def summary_json(self) -> str: ...
    def densities_csv(self) -> bytes: ...
    def report_input_json(self) -> str: ...
    def write_report(self, folder: Union[str, os.PathLike[str]], format: str) -> List[os.PathLike[str]]: ...

def run_analysis(
    registry: Optional[_Registry],
    cal: Dict[str, object],
    split_at: Optional[str],
    hardware_doubling_years: float,
    prices: Optional[_Table],
    sweep: bool,
    alt_benchmarks: List[str],
    scale: Optional[str],
) -> _Analysis: ...
def place_model(
    registry: Optional[_Registry],
    cal: Dict[str, object],
    name: str,
    params: float,
    date: str,
    tokens: Optional[float],
    scores: Optional[Dict[str, float]],
    lm_eval: Optional[str],
) -> str: ...
def capability_report(
    registry: Optional[_Registry],
    reference: str,
    min_benchmarks: int,
    protocols: str,
    basis: str,
    bootstrap: int,
    seed: int,
) -> str: ...
def fit_loss(
    data: _Table, form: str, drop_highest: int, delta: float, bootstrap: int, seed: int
) -> Tuple[str, List[str]]: ...
def fit_score(data: _Table, bootstrap: int, seed: int) -> Tuple[str, List[str]]: ...
def predict_ladder(
    ladder: Optional[_Table],
    targets: List[str],
    tasks: List[str],
    runs: List[str],
    exclude: List[str],
    final_window: int,
    skip: float,
    smooth: int,
    bootstrap: int,
    seed: int,
    backtest_largest: bool,
) -> Tuple[str, str]: ...
def _panic_for_test() -> None: ...
