"""Synthetic people: articulated figures rendered into COCO-format keypoint datasets and clips.

For smoke tests, CI, the demo clip and the shipped demo model.  It is NOT a substitute for COCO:
the figures are flat-shaded capsules, and a network trained on them does not find real people.

A figure is a kinematic tree (trunk, head, two arms, two legs) posed in 3D with joint angles inside
human limits, turned to any view (front, back, side), projected orthographically and drawn far part
first, so turning foreshortens limbs and the near limbs cover the far ones.  The person's left limbs
are drawn lighter and the right limbs darker, the face (eyes, nose) shows only from the front and
hair covers the back of the head, so left/right and front/back can be learnt from appearance.

A per-pixel owner buffer (person and body part on top) decides visibility: a keypoint covered by a
later person, an occluder or a nearer part of its own body gets v=1; one outside the image v=0 with
x = y = 0 (as COCO stores it), and so do eyes and nose on a head turned away (COCO annotators leave
those unlabelled).  Keypoints use the project's pixel-index convention (docs/architecture.md).

One job per module: ``anatomy`` (lengths, parts), ``poses`` (joint angles), ``looks`` (clothes),
``rig`` (pose -> shapes and keypoints in pixels), ``draw``, ``backgrounds``, ``scene`` (figures and
occluders in one image), ``labels`` (COCO annotations), ``dataset``, ``clip``, ``cli``.

    python -m training.synthetic --out DIR --num N --seed S [--size 256] [--max-people 4] [--split val]
    python -m training.synthetic --video clip.mp4 --num FRAMES --seed S [--size 240] [--fps 10]
"""
from .anatomy import SHIN, THIGH, UPPER_ARM
from .backgrounds import background
from .cli import main
from .clip import clip_annotations_path, render_clip
from .dataset import generate_dataset
from .labels import annotate, coco_categories, visibility
from .looks import Body, random_body
from .poses import LIMITS, POSE_KINDS, Pose, clamp_pose, interpolate, random_pose, walking_pose
from .rig import Figure, Rig, pose_figure
from .scene import Occluder, Scene, random_scene, render_scene

__all__ = ["LIMITS", "POSE_KINDS", "SHIN", "THIGH", "UPPER_ARM", "Body", "Figure", "Occluder", "Pose", "Rig", "Scene",
           "annotate", "background", "clamp_pose", "clip_annotations_path", "coco_categories", "generate_dataset",
           "interpolate", "main", "pose_figure", "random_body", "random_pose", "random_scene", "render_clip",
           "render_scene", "visibility", "walking_pose"]
