;; The training step's arithmetic over float32 vectors, four lanes at a time (WebAssembly SIMD).
;;
;; Every kernel works on byte offsets into the imported memory and on element counts that are
;; multiples of 4 (vectors are laid out with each tensor padded to 4 elements: see arena.ts), so
;; there are no scalar tails. Every float32 operation rounds to float32, the operations run in
;; the order written here and nothing is fused (WebAssembly has no implicit FMA), so a kernel
;; gives the same bits on every machine; test/kernels/reference.ts states each kernel as scalar
;; JavaScript with Math.fround after every operation, and the tests hold the two to the same bits.
;;
;; Sums of squares accumulate the exact float64 squares of float32 values in four lanes (element
;; index mod 4), combined as (l0 + l1) + (l2 + l3): a fixed order, so a fixed result.
;;
;; scripts/build-kernels.mjs assembles this file twice: with a shared memory (the coordinator's
;; growable arena) and with an ordinary one (arenas whose views onnxruntime reads and writes).
(module
  (import "env" "memory" (memory 1 65536 shared))

  ;; dst = a + b
  (func (export "add") (param $dst i32) (param $a i32) (param $b i32) (param $n i32)
    (local $i i32) (local $end i32)
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (block $done
      (br_if $done (i32.eqz (local.get $end)))
      (loop $l
        (v128.store (i32.add (local.get $dst) (local.get $i))
          (f32x4.add (v128.load (i32.add (local.get $a) (local.get $i))) (v128.load (i32.add (local.get $b) (local.get $i)))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br_if $l (i32.lt_u (local.get $i) (local.get $end))))))

  ;; dst = src * s
  (func (export "scale") (param $dst i32) (param $src i32) (param $s f32) (param $n i32)
    (local $i i32) (local $end i32) (local $S v128)
    (local.set $S (f32x4.splat (local.get $s)))
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (block $done
      (br_if $done (i32.eqz (local.get $end)))
      (loop $l
        (v128.store (i32.add (local.get $dst) (local.get $i)) (f32x4.mul (v128.load (i32.add (local.get $src) (local.get $i))) (local.get $S)))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br_if $l (i32.lt_u (local.get $i) (local.get $end))))))

  ;; Σ x² (float64, four lanes); NaN or +Inf when an x is NaN or ±Inf (squares of float32 values
  ;; cannot overflow float64, so a non-finite sum means a non-finite value).
  (func (export "sumsq") (param $p i32) (param $n i32) (result f64)
    (local $i i32) (local $end i32) (local $x v128)
    (local $acc01 v128) (local $acc23 v128) (local $lo v128) (local $hi v128)
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (block $done
      (br_if $done (i32.eqz (local.get $end)))
      (loop $l
        (local.set $x (v128.load (i32.add (local.get $p) (local.get $i))))
        (local.set $lo (f64x2.promote_low_f32x4 (local.get $x)))
        (local.set $hi (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $x) (local.get $x))))
        (local.set $acc01 (f64x2.add (local.get $acc01) (f64x2.mul (local.get $lo) (local.get $lo))))
        (local.set $acc23 (f64x2.add (local.get $acc23) (f64x2.mul (local.get $hi) (local.get $hi))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br_if $l (i32.lt_u (local.get $i) (local.get $end)))))
    (f64.add
      (f64.add (f64x2.extract_lane 0 (local.get $acc01)) (f64x2.extract_lane 1 (local.get $acc01)))
      (f64.add (f64x2.extract_lane 0 (local.get $acc23)) (f64x2.extract_lane 1 (local.get $acc23)))))

  ;; g = min(max(g·s, −limit), limit) in place; returns Σ g² (float64, four lanes), or NaN when
  ;; any g·s is NaN or ±Inf (clamping would hide an infinity: it is looked for first, as Σ (q − q),
  ;; which is 0 for finite q and NaN otherwise). limit = +∞ clamps nothing; s = 1 only clamps.
  (func (export "scale_clamp_sumsq") (param $g i32) (param $n i32) (param $s f32) (param $limit f32) (result f64)
    (local $i i32) (local $end i32) (local $S v128) (local $HI v128) (local $LO v128) (local $x v128) (local $q v128) (local $bad v128)
    (local $acc01 v128) (local $acc23 v128) (local $lo v128) (local $hi v128)
    (local.set $S (f32x4.splat (local.get $s)))
    (local.set $HI (f32x4.splat (local.get $limit)))
    (local.set $LO (f32x4.splat (f32.neg (local.get $limit))))
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (block $done
      (br_if $done (i32.eqz (local.get $end)))
      (loop $l
        (local.set $q (f32x4.mul (v128.load (i32.add (local.get $g) (local.get $i))) (local.get $S)))
        (local.set $bad (f32x4.add (local.get $bad) (f32x4.sub (local.get $q) (local.get $q))))
        (local.set $x (f32x4.max (f32x4.min (local.get $q) (local.get $HI)) (local.get $LO)))
        (v128.store (i32.add (local.get $g) (local.get $i)) (local.get $x))
        (local.set $lo (f64x2.promote_low_f32x4 (local.get $x)))
        (local.set $hi (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $x) (local.get $x))))
        (local.set $acc01 (f64x2.add (local.get $acc01) (f64x2.mul (local.get $lo) (local.get $lo))))
        (local.set $acc23 (f64x2.add (local.get $acc23) (f64x2.mul (local.get $hi) (local.get $hi))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br_if $l (i32.lt_u (local.get $i) (local.get $end)))))
    (f64.add
      (f64.add
        (f64.add (f64x2.extract_lane 0 (local.get $acc01)) (f64x2.extract_lane 1 (local.get $acc01)))
        (f64.add (f64x2.extract_lane 0 (local.get $acc23)) (f64x2.extract_lane 1 (local.get $acc23))))
      ;; 0 when every value was finite (and x + 0 = x), NaN otherwise.
      (f64.promote_f32 (f32.add
        (f32.add (f32x4.extract_lane 0 (local.get $bad)) (f32x4.extract_lane 1 (local.get $bad)))
        (f32.add (f32x4.extract_lane 2 (local.get $bad)) (f32x4.extract_lane 3 (local.get $bad)))))))

  ;; Index of the first NaN or ±Inf, or −1. x − x is 0 for every finite x and NaN otherwise: a
  ;; first pass adds those up without branching (the common answer, −1, costs one read), and only
  ;; a vector holding NaN sends the second pass looking for the element.
  (func (export "first_nonfinite") (param $p i32) (param $n i32) (result i32)
    (local $i i32) (local $end i32) (local $x v128) (local $acc v128) (local $k i32) (local $t f32)
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (if (i32.eqz (local.get $end)) (then (return (i32.const -1))))
    (loop $l
      (local.set $x (v128.load (i32.add (local.get $p) (local.get $i))))
      (local.set $acc (f32x4.add (local.get $acc) (f32x4.sub (local.get $x) (local.get $x))))
      (local.set $i (i32.add (local.get $i) (i32.const 16)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $end))))
    (if (i32x4.all_true (f32x4.eq (local.get $acc) (local.get $acc))) (then (return (i32.const -1))))
    (local.set $k (i32.const 0))
    (loop $scan
      (local.set $t (f32.load (i32.add (local.get $p) (i32.shl (local.get $k) (i32.const 2)))))
      (local.set $t (f32.sub (local.get $t) (local.get $t)))
      (if (f32.ne (local.get $t) (local.get $t)) (then (return (local.get $k))))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br_if $scan (i32.lt_u (local.get $k) (local.get $n))))
    (i32.const -1))

  ;; Optimizers. Each first forms the gradient it applies, g = ∇·s (s: the step's 1/divisor times
  ;; the global-norm clip factor, so that ∇ may be the summed gradient), then adds the lecture's
  ;; coupled penalties where their coefficient is not 0:
  ;;   g ← g + l2·w      g ← g + l1·sign(w)      (sign(0) = 0)

  ;; w ← w − lr·g
  (func (export "sgd") (param $w i32) (param $g i32) (param $n i32)
        (param $lr f32) (param $s f32) (param $l2 f32) (param $l1 f32)
    (local $i i32) (local $end i32) (local $x v128) (local $w4 v128)
    (local $LR v128) (local $S v128) (local $L2 v128) (local $L1 v128) (local $ONE v128) (local $ZERO v128)
    (local $hasL2 i32) (local $hasL1 i32)
    (local.set $LR (f32x4.splat (local.get $lr))) (local.set $S (f32x4.splat (local.get $s)))
    (local.set $L2 (f32x4.splat (local.get $l2))) (local.set $L1 (f32x4.splat (local.get $l1)))
    (local.set $ONE (f32x4.splat (f32.const 1)))
    (local.set $hasL2 (f32.ne (local.get $l2) (f32.const 0))) (local.set $hasL1 (f32.ne (local.get $l1) (f32.const 0)))
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (block $done
      (br_if $done (i32.eqz (local.get $end)))
      (loop $l
        (local.set $w4 (v128.load (i32.add (local.get $w) (local.get $i))))
        (local.set $x (f32x4.mul (v128.load (i32.add (local.get $g) (local.get $i))) (local.get $S)))
        (if (local.get $hasL2) (then (local.set $x (f32x4.add (local.get $x) (f32x4.mul (local.get $L2) (local.get $w4))))))
        (if (local.get $hasL1) (then (local.set $x (f32x4.add (local.get $x) (f32x4.mul (local.get $L1)
          (f32x4.sub (v128.and (f32x4.gt (local.get $w4) (local.get $ZERO)) (local.get $ONE)) (v128.and (f32x4.lt (local.get $w4) (local.get $ZERO)) (local.get $ONE))))))))
        (v128.store (i32.add (local.get $w) (local.get $i)) (f32x4.sub (local.get $w4) (f32x4.mul (local.get $LR) (local.get $x))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br_if $l (i32.lt_u (local.get $i) (local.get $end))))))

  ;; Heavy-ball momentum (torch SGD, dampening 0; v starts at 0, so step 1 gives v = g):
  ;;   v ← μ·v + g       w ← w − lr·v                         (nesterov = 0)
  ;; Nesterov:  v ← μ·v + g       w ← w − lr·(g + μ·v)         (nesterov = 1)
  (func (export "momentum") (param $w i32) (param $g i32) (param $v i32) (param $n i32)
        (param $lr f32) (param $mu f32) (param $s f32) (param $l2 f32) (param $l1 f32) (param $nesterov i32)
    (local $i i32) (local $end i32) (local $x v128) (local $w4 v128) (local $v4 v128)
    (local $LR v128) (local $MU v128) (local $S v128) (local $L2 v128) (local $L1 v128) (local $ONE v128) (local $ZERO v128)
    (local $hasL2 i32) (local $hasL1 i32)
    (local.set $LR (f32x4.splat (local.get $lr))) (local.set $MU (f32x4.splat (local.get $mu))) (local.set $S (f32x4.splat (local.get $s)))
    (local.set $L2 (f32x4.splat (local.get $l2))) (local.set $L1 (f32x4.splat (local.get $l1)))
    (local.set $ONE (f32x4.splat (f32.const 1)))
    (local.set $hasL2 (f32.ne (local.get $l2) (f32.const 0))) (local.set $hasL1 (f32.ne (local.get $l1) (f32.const 0)))
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (block $done
      (br_if $done (i32.eqz (local.get $end)))
      (loop $l
        (local.set $w4 (v128.load (i32.add (local.get $w) (local.get $i))))
        (local.set $x (f32x4.mul (v128.load (i32.add (local.get $g) (local.get $i))) (local.get $S)))
        (if (local.get $hasL2) (then (local.set $x (f32x4.add (local.get $x) (f32x4.mul (local.get $L2) (local.get $w4))))))
        (if (local.get $hasL1) (then (local.set $x (f32x4.add (local.get $x) (f32x4.mul (local.get $L1)
          (f32x4.sub (v128.and (f32x4.gt (local.get $w4) (local.get $ZERO)) (local.get $ONE)) (v128.and (f32x4.lt (local.get $w4) (local.get $ZERO)) (local.get $ONE))))))))
        (local.set $v4 (f32x4.add (f32x4.mul (local.get $MU) (v128.load (i32.add (local.get $v) (local.get $i)))) (local.get $x)))
        (v128.store (i32.add (local.get $v) (local.get $i)) (local.get $v4))
        (if (local.get $nesterov)
          (then (local.set $x (f32x4.add (local.get $x) (f32x4.mul (local.get $MU) (local.get $v4)))))
          (else (local.set $x (local.get $v4))))
        (v128.store (i32.add (local.get $w) (local.get $i)) (f32x4.sub (local.get $w4) (f32x4.mul (local.get $LR) (local.get $x))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br_if $l (i32.lt_u (local.get $i) (local.get $end))))))

  ;; Adam and AdamW (torch.optim.Adam/AdamW, amsgrad off), with c1 = 1 − β₁, c2 = 1 − β₂,
  ;; ss = lr/(1 − β₁ᵗ), isb2 = 1/√(1 − β₂ᵗ), and keep = 1 − lr·λ (AdamW's decoupled decay; 1 for Adam):
  ;;   m ← β₁·m + c1·g      v ← β₂·v + (c2·g)·g
  ;;   w ← w·keep − (ss·m)/(√v·isb2 + eps)
  ;; torch divides √v by √(1 − β₂ᵗ); multiplying by its reciprocal leaves one division per value
  ;; (divisions and square roots bound this kernel's speed).
  (func (export "adam") (param $w i32) (param $g i32) (param $m i32) (param $v i32) (param $n i32)
        (param $b1 f32) (param $c1 f32) (param $b2 f32) (param $c2 f32) (param $ss f32) (param $isb2 f32) (param $eps f32) (param $keep f32)
        (param $s f32) (param $l2 f32) (param $l1 f32)
    (local $i i32) (local $end i32) (local $x v128) (local $w4 v128) (local $m4 v128) (local $v4 v128)
    (local $B1 v128) (local $C1 v128) (local $B2 v128) (local $C2 v128) (local $SS v128) (local $ISB2 v128) (local $EPS v128) (local $KEEP v128)
    (local $S v128) (local $L2 v128) (local $L1 v128) (local $ONE v128) (local $ZERO v128)
    (local $hasL2 i32) (local $hasL1 i32)
    (local.set $B1 (f32x4.splat (local.get $b1))) (local.set $C1 (f32x4.splat (local.get $c1)))
    (local.set $B2 (f32x4.splat (local.get $b2))) (local.set $C2 (f32x4.splat (local.get $c2)))
    (local.set $SS (f32x4.splat (local.get $ss))) (local.set $ISB2 (f32x4.splat (local.get $isb2)))
    (local.set $EPS (f32x4.splat (local.get $eps))) (local.set $KEEP (f32x4.splat (local.get $keep)))
    (local.set $S (f32x4.splat (local.get $s)))
    (local.set $L2 (f32x4.splat (local.get $l2))) (local.set $L1 (f32x4.splat (local.get $l1)))
    (local.set $ONE (f32x4.splat (f32.const 1)))
    (local.set $hasL2 (f32.ne (local.get $l2) (f32.const 0))) (local.set $hasL1 (f32.ne (local.get $l1) (f32.const 0)))
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (block $done
      (br_if $done (i32.eqz (local.get $end)))
      (loop $l
        (local.set $w4 (v128.load (i32.add (local.get $w) (local.get $i))))
        (local.set $x (f32x4.mul (v128.load (i32.add (local.get $g) (local.get $i))) (local.get $S)))
        (if (local.get $hasL2) (then (local.set $x (f32x4.add (local.get $x) (f32x4.mul (local.get $L2) (local.get $w4))))))
        (if (local.get $hasL1) (then (local.set $x (f32x4.add (local.get $x) (f32x4.mul (local.get $L1)
          (f32x4.sub (v128.and (f32x4.gt (local.get $w4) (local.get $ZERO)) (local.get $ONE)) (v128.and (f32x4.lt (local.get $w4) (local.get $ZERO)) (local.get $ONE))))))))
        (local.set $m4 (f32x4.add (f32x4.mul (local.get $B1) (v128.load (i32.add (local.get $m) (local.get $i)))) (f32x4.mul (local.get $C1) (local.get $x))))
        (local.set $v4 (f32x4.add (f32x4.mul (local.get $B2) (v128.load (i32.add (local.get $v) (local.get $i)))) (f32x4.mul (f32x4.mul (local.get $C2) (local.get $x)) (local.get $x))))
        (v128.store (i32.add (local.get $m) (local.get $i)) (local.get $m4))
        (v128.store (i32.add (local.get $v) (local.get $i)) (local.get $v4))
        (v128.store (i32.add (local.get $w) (local.get $i))
          (f32x4.sub (f32x4.mul (local.get $w4) (local.get $KEEP))
                     (f32x4.div (f32x4.mul (local.get $SS) (local.get $m4))
                                (f32x4.add (f32x4.mul (f32x4.sqrt (local.get $v4)) (local.get $ISB2)) (local.get $EPS)))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br_if $l (i32.lt_u (local.get $i) (local.get $end))))))
)
