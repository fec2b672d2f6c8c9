// Earnings per epoch as a bar chart (uPlot, bundled), with the same figures in a table beside it
// for screen readers and for copying.
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

let plot = null;
let observer = null;

export function renderEarnings(container, history, decimals, symbol) {
  const epochs = history.map((entry) => entry.epoch);
  const earned = history.map((entry) => Number(BigInt(entry.earned.units)) / 10 ** decimals);
  container.setAttribute(
    "aria-label",
    history.length
      ? `Earnings per epoch, ${symbol}: ` +
          history.map((entry) => `epoch ${entry.epoch} ${entry.earned.formatted}`).join(", ")
      : "Earnings per epoch: no epochs yet",
  );
  plot?.destroy();
  observer?.disconnect();
  plot = null;
  if (!history.length) {
    container.textContent = "No epochs yet.";
    return;
  }
  container.textContent = "";
  const first = epochs[0];
  const last = epochs[epochs.length - 1];
  const options = {
    width: Math.max(container.clientWidth, 240),
    height: 220,
    legend: { show: false },
    cursor: { show: false },
    scales: {
      x: { time: false, range: () => [first - 0.5, last + 0.5] },
      y: { range: (_, __, max) => [0, max > 0 ? max * 1.1 : 1] },
    },
    axes: [
      { label: "Epoch", splits: () => epochs, values: (_, ticks) => ticks.map(String) },
      { label: symbol, size: 60 },
    ],
    series: [
      {},
      {
        label: `Earned (${symbol})`,
        fill: "#2f6f4f",
        stroke: "#2f6f4f",
        paths: uPlot.paths.bars({ size: [0.6, 48] }),
        points: { show: false },
      },
    ],
  };
  plot = new uPlot(options, [epochs, earned], container);
  container.dataset.bars = String(history.length);
  observer = new ResizeObserver(() => {
    if (plot && container.clientWidth) plot.setSize({ width: container.clientWidth, height: 220 });
  });
  observer.observe(container);
}
