-- Reserved: 0008 is the security branch's migration (members' linked hub keys). The migration runner
-- wants the numbers 1..n without gaps, so the digests branch (0009) carries this no-op in its place.
-- At the merge, this file is deleted and the security branch's 0008 stands here.
SELECT 1;
