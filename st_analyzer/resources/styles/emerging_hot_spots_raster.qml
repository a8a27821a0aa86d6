<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>
<qgis maxScale="0" styleCategories="AllStyleCategories" version="3.22.16-Białowieża" hasScaleBasedVisibilityFlag="0" minScale="1e+08">
  <flags>
    <Identifiable>1</Identifiable>
    <Removable>1</Removable>
    <Searchable>1</Searchable>
    <Private>0</Private>
  </flags>
  <temporal enabled="0" mode="0" fetchMode="0">
    <fixedRange>
      <start></start>
      <end></end>
    </fixedRange>
  </temporal>
  <customproperties>
    <Option type="Map">
      <Option type="QString" name="identify/format" value="Value"/>
    </Option>
  </customproperties>
  <pipe-data-defined-properties>
    <Option type="Map">
      <Option type="QString" name="name" value=""/>
      <Option name="properties"/>
      <Option type="QString" name="type" value="collection"/>
    </Option>
  </pipe-data-defined-properties>
  <pipe>
    <provider>
      <resampling zoomedOutResamplingMethod="nearestNeighbour" zoomedInResamplingMethod="nearestNeighbour" enabled="false" maxOversampling="2"/>
    </provider>
    <rasterrenderer opacity="1" alphaBand="-1" type="paletted" band="1" nodataColor="">
      <minMaxOrigin>
        <limits>None</limits>
        <extent>WholeRaster</extent>
        <statAccuracy>Estimated</statAccuracy>
        <cumulativeCutLower>0.02</cumulativeCutLower>
        <cumulativeCutUpper>0.98</cumulativeCutUpper>
        <stdDevFactor>2</stdDevFactor>
      </minMaxOrigin>
      <colorPalette>
        <paletteEntry alpha="255" color="#e8e8e8" label="no pattern" value="0"/>
        <paletteEntry alpha="255" color="#f4a582" label="new hot spot" value="1"/>
        <paletteEntry alpha="255" color="#f08060" label="consecutive hot spot" value="2"/>
        <paletteEntry alpha="255" color="#b2182b" label="intensifying hot spot" value="3"/>
        <paletteEntry alpha="255" color="#d6604d" label="persistent hot spot" value="4"/>
        <paletteEntry alpha="255" color="#e7998a" label="diminishing hot spot" value="5"/>
        <paletteEntry alpha="255" color="#fddbc7" label="sporadic hot spot" value="6"/>
        <paletteEntry alpha="255" color="#c51b7d" label="oscillating hot spot" value="7"/>
        <paletteEntry alpha="255" color="#7f3b08" label="historical hot spot" value="8"/>
        <paletteEntry alpha="255" color="#92c5de" label="new cold spot" value="9"/>
        <paletteEntry alpha="255" color="#6fa8d6" label="consecutive cold spot" value="10"/>
        <paletteEntry alpha="255" color="#2166ac" label="intensifying cold spot" value="11"/>
        <paletteEntry alpha="255" color="#4393c3" label="persistent cold spot" value="12"/>
        <paletteEntry alpha="255" color="#8fb8de" label="diminishing cold spot" value="13"/>
        <paletteEntry alpha="255" color="#d1e5f0" label="sporadic cold spot" value="14"/>
        <paletteEntry alpha="255" color="#4d9221" label="oscillating cold spot" value="15"/>
        <paletteEntry alpha="255" color="#2d004b" label="historical cold spot" value="16"/>
      </colorPalette>
    </rasterrenderer>
    <brightnesscontrast contrast="0" gamma="1" brightness="0"/>
    <huesaturation saturation="0" colorizeGreen="128" colorizeStrength="100" colorizeBlue="128" colorizeOn="0" colorizeRed="255" invertColors="0" grayscaleMode="0"/>
    <rasterresampler maxOversampling="2"/>
    <resamplingStage>resamplingFilter</resamplingStage>
  </pipe>
  <blendMode>0</blendMode>
</qgis>
