//! Greedy placement of point labels in pixel space: each label tries a ring of
//! positions around its point, then a wider ring (drawn with a leader line), and
//! takes the first spot that stays inside the plot and covers no marker and no
//! label already placed. A label with no free spot is left out rather than drawn
//! over another name; the page's table lists every model anyway.

/// An axis-aligned pixel rectangle, `x0 <= x1`, `y0 <= y1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    pub x0: i32,
    pub y0: i32,
    pub x1: i32,
    pub y1: i32,
}

impl Rect {
    pub fn around(center: (i32, i32), half: i32) -> Rect {
        Rect {
            x0: center.0 - half,
            y0: center.1 - half,
            x1: center.0 + half,
            y1: center.1 + half,
        }
    }

    fn overlaps(&self, other: &Rect) -> bool {
        self.x0 < other.x1 && other.x0 < self.x1 && self.y0 < other.y1 && other.y0 < self.y1
    }

    fn inside(&self, outer: &Rect) -> bool {
        self.x0 >= outer.x0 && self.x1 <= outer.x1 && self.y0 >= outer.y0 && self.y1 <= outer.y1
    }
}

/// Where a label went: its top-left corner and whether it sits far enough from its
/// point to need a leader line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    pub top_left: (i32, i32),
    pub leader: bool,
}

/// Keeps the occupied rectangles of one plot.
pub struct Placer {
    bounds: Rect,
    occupied: Vec<Rect>,
}

impl Placer {
    pub fn new(bounds: Rect) -> Placer {
        Placer {
            bounds,
            occupied: Vec::new(),
        }
    }

    /// Marks a marker's box as taken so no label covers it.
    pub fn block(&mut self, r: Rect) {
        self.occupied.push(r);
    }

    /// Finds a free spot for a `size` label next to `anchor`, claims it and
    /// returns it; `None` if every candidate collides.
    pub fn place(&mut self, anchor: (i32, i32), size: (u32, u32)) -> Option<Placement> {
        let (w, h) = (size.0 as i32, size.1 as i32);
        const PAD: i32 = 2;
        for (ring, gap) in [(false, 7), (true, 26)] {
            let (ax, ay) = anchor;
            let candidates = [
                (ax + gap, ay - h / 2),
                (ax - gap - w, ay - h / 2),
                (ax - w / 2, ay - gap - h),
                (ax - w / 2, ay + gap),
                (ax + gap - 2, ay - gap - h + 2),
                (ax + gap - 2, ay + gap - 2),
                (ax - gap - w + 2, ay - gap - h + 2),
                (ax - gap - w + 2, ay + gap - 2),
            ];
            for (x, y) in candidates {
                let r = Rect {
                    x0: x - PAD,
                    y0: y - PAD,
                    x1: x + w + PAD,
                    y1: y + h + PAD,
                };
                if r.inside(&self.bounds) && !self.occupied.iter().any(|o| o.overlaps(&r)) {
                    self.occupied.push(r);
                    return Some(Placement {
                        top_left: (x, y),
                        leader: ring,
                    });
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_never_overlap_and_stay_inside() {
        let bounds = Rect {
            x0: 0,
            y0: 0,
            x1: 400,
            y1: 300,
        };
        let mut placer = Placer::new(bounds);
        let mut placed = Vec::new();
        for i in 0..200 {
            let anchor = (20 + (i * 37) % 360, 20 + (i * 53) % 260);
            placer.block(Rect::around(anchor, 4));
            if let Some(p) = placer.place(anchor, (60, 12)) {
                placed.push(Rect {
                    x0: p.top_left.0,
                    y0: p.top_left.1,
                    x1: p.top_left.0 + 60,
                    y1: p.top_left.1 + 12,
                });
            }
        }
        assert!(placed.len() > 10, "too few labels placed: {}", placed.len());
        for (i, a) in placed.iter().enumerate() {
            assert!(a.inside(&bounds));
            for b in &placed[i + 1..] {
                assert!(!a.overlaps(b), "{a:?} overlaps {b:?}");
            }
        }
    }
}
